import type { Libp2p } from '@libp2p/interface'
import type { Service } from './service.ts'
import { NodeStoppedError } from '../errors.ts'
import { explainListenFailure } from '../transport/listen-error.ts'
import { stopLibp2p } from '../transport/libp2p-stop.ts'

/**
 * libp2p as the first part of a node: listening starts with it and stops
 * with it, so a failed start or a stop always closes the port. Destroy drops
 * every connection at once, which lets a graceful stop stuck on a slow peer
 * finish.
 */
export function libp2pService (libp2p: Libp2p, listen: { host: string, port: number }): Service {
  return {
    name: 'libp2p',
    start: async () => {
      try {
        await libp2p.start()
      } catch (err) {
        throw explainListenFailure(err, listen.host, listen.port)
      }
    },
    stop: async () => { await stopLibp2p(libp2p) },
    destroy: async () => {
      for (const connection of libp2p.getConnections()) connection.abort(new NodeStoppedError())
      if (libp2p.status === 'started') {
        await stopLibp2p(libp2p)
      } else if (libp2p.status === 'stopping') {
        // the graceful stop is still running: it ends now that no connection holds it
        await new Promise<void>(resolve => { libp2p.addEventListener('stop', () => { resolve() }, { once: true }) })
      }
    }
  }
}
