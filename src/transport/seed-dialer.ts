import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'
import { CLOSED_EARLY_TEXT, HTTP_PORTS, notAGridNode } from './dial-failure.ts'

const FIRST_RETRY_MS = 250
const MAX_RETRY_MS = 10_000

/**
 * Dials each seed address until it connects once, with capped exponential
 * backoff, so nodes may be started in any order. Stops with the node.
 */
export class SeedDialer {
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly controller = new AbortController()
  private readonly tasks: Array<Promise<void>> = []

  constructor (libp2p: Libp2p, log: Logger) {
    this.libp2p = libp2p
    this.log = log
  }

  start (seeds: Multiaddr[]): void {
    for (const seed of seeds) this.tasks.push(this.dialUntilConnected(seed))
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await Promise.allSettled(this.tasks)
  }

  private async dialUntilConnected (seed: Multiaddr): Promise<void> {
    const signal = this.controller.signal
    let delay = FIRST_RETRY_MS
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const connection = await this.libp2p.dial(seed, { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) })
        this.log.info({ seed: seed.toString(), peer: connection.remotePeer.toString() }, 'joined through seed')
        return
      } catch (err) {
        if (signal.aborted) return
        const loud = attempt === 1 || attempt % 10 === 0
        if (isDialSelf(err)) {
          // reached, and it is this node's own key (two nodes started from one certificate): "not
          // reachable yet" would send the user looking at the network; retried, as the seed may be restarted
          this.log[loud ? 'error' : 'debug']({ seed: seed.toString(), attempt, peerId: this.libp2p.peerId.toString() },
            `seed runs under this node's own key (the same certificate): a node takes no connection from its own key, so it cannot join through it; give each node its own certificate (\`grid certs issue <name> --role member,agent\`, then --name <name>); retrying in ${delay} ms`)
        } else {
          const otherwise = notAGridNode(err)
          const why = otherwise === 'answers-otherwise'
            ? `seed answers, but not as a grid node: is --peer its --port? (${HTTP_PORTS})`
            : otherwise === 'closed-early' ? `seed ${CLOSED_EARLY_TEXT}: is --peer a grid node's --port? (${HTTP_PORTS})` : 'seed not reachable yet'
          this.log[loud ? 'warn' : 'debug']({ seed: seed.toString(), attempt, err }, `${why}, retrying in ${delay} ms`)
        }
      }
      await sleep(delay, signal)
      delay = Math.min(delay * 2, MAX_RETRY_MS)
    }
  }
}

function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** libp2p's refusal to dial a peer with this node's own key (the address answered under it). */
function isDialSelf (err: unknown): boolean {
  return (err as Error | undefined)?.name === 'InvalidPeerIdError' && ((err as Error).message ?? '').includes('dial self')
}
