import type { Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Role } from './roles.ts'
import type { PeerCredentials } from './credentials.ts'
import type { ForbiddenError } from '../errors.ts'
import { refusalFrame } from './refusal.ts'
import { JsonStream } from '../transport/json-stream.ts'

/** Who may open a protocol, and how many of its streams one connection may hold open at once. */
export interface ProtocolPolicy {
  roles: readonly Role[]
  /** Per connection (libp2p's registrar enforces it; its default is 32). */
  maxInboundStreams?: number
}

/** Every role: for protocols any certificate of the grid may use (status). */
export const ANY_ROLE: readonly Role[] = ['agent', 'member', 'client', 'admin']

/** Wraps a protocol handler: callers without one of `roles` get a refusal frame and a closed stream. */
export function guarded (credentials: Pick<PeerCredentials, 'authorize'>, protocol: string, roles: readonly Role[], handler: StreamHandler): StreamHandler {
  return async (stream, connection) => {
    try {
      credentials.authorize(connection.remotePeer.toString(), roles, protocol)
    } catch (err) {
      await refuse(stream, err as ForbiddenError)
      return
    }
    await handler(stream, connection)
  }
}

async function refuse (stream: Stream, err: ForbiddenError): Promise<void> {
  const json = new JsonStream(stream)
  const signal = AbortSignal.timeout(2000)
  try {
    await json.write(refusalFrame(err), { signal })
    await json.close({ signal })
  } catch {
    stream.abort(err)
  }
}

/** libp2p handle options for a policy. */
export function handlerOptions (policy: ProtocolPolicy): StreamHandlerOptions {
  return policy.maxInboundStreams == null ? {} : { maxInboundStreams: policy.maxInboundStreams }
}
