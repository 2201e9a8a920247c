import type { Libp2p, StreamHandler } from '@libp2p/interface'
import type { Service } from './service.ts'
import type { RoleCheck } from '../trust/credentials.ts'
import { guarded, handlerOptions } from '../trust/guard.ts'
import type { ProtocolPolicy } from '../trust/guard.ts'

/** A protocol's handler with who may open it (DESIGN §11) and how many of its streams a connection may hold. */
export interface GuardedHandler extends ProtocolPolicy {
  handler: StreamHandler
}

/**
 * Protocol handlers as a service: registered on start, unregistered on stop
 * (and on destroy), so a stopped part never answers a stream. Each is guarded:
 * a caller without one of its roles gets ERR_FORBIDDEN and a closed stream.
 * `beforeStart` runs first (what the handlers need ready before they answer anyone).
 */
export function protocolHandlers (name: string, libp2p: Pick<Libp2p, 'handle' | 'unhandle'>, roles: Pick<RoleCheck, 'authorize'>, handlers: Record<string, GuardedHandler>, beforeStart?: () => void): Service {
  const protocols = Object.keys(handlers)
  const unhandle = async (): Promise<void> => { await libp2p.unhandle(protocols) }
  return {
    name,
    start: async () => {
      beforeStart?.()
      for (const protocol of protocols) {
        const policy = handlers[protocol]!
        await libp2p.handle(protocol, guarded(roles, protocol, policy.roles, policy.handler, policy), handlerOptions(policy))
      }
    },
    stop: unhandle,
    destroy: unhandle
  }
}
