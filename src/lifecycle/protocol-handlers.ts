import type { Libp2p, StreamHandler } from '@libp2p/interface'
import type { Service } from './service.ts'

/**
 * Protocol handlers as a service: registered on start, unregistered on stop
 * (and on destroy), so a stopped part never answers a stream.
 */
export function protocolHandlers (name: string, libp2p: Pick<Libp2p, 'handle' | 'unhandle'>, handlers: Record<string, StreamHandler>): Service {
  const protocols = Object.keys(handlers)
  const unhandle = async (): Promise<void> => { await libp2p.unhandle(protocols) }
  return {
    name,
    start: async () => {
      for (const protocol of protocols) await libp2p.handle(protocol, handlers[protocol]!)
    },
    stop: unhandle,
    destroy: unhandle
  }
}
