import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'

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
        const level = attempt === 1 || attempt % 10 === 0 ? 'warn' : 'debug'
        this.log[level]({ seed: seed.toString(), attempt, err }, `seed not reachable yet, retrying in ${delay} ms`)
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
