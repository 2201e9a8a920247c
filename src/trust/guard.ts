import type { Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import type { Role } from './roles.ts'
import type { PeerCredentials } from './credentials.ts'
import { ProtocolError } from '../errors.ts'
import type { ForbiddenError } from '../errors.ts'
import { refusalFrame } from './refusal.ts'
import { JsonStream } from '../transport/json-stream.ts'

/** Who may open a protocol, and how many of its streams one connection may hold open at once. */
export interface ProtocolPolicy {
  roles: readonly Role[]
  /** Per connection (libp2p's registrar enforces it; its default is 32). */
  maxInboundStreams?: number
  /**
   * A request/response stream is aborted this long after it opened, whatever it
   * is waiting for: a peer that stalls (never sends, or never reads the answer)
   * cannot hold a handler, its buffers and a stream slot for longer.
   */
  deadlineMs?: number
}

/** Every role: for protocols any certificate of the grid may use (status). */
export const ANY_ROLE: readonly Role[] = ['agent', 'member', 'client', 'admin']

/**
 * Wraps a protocol handler: callers without one of `roles` get a refusal frame
 * and a closed stream; with `deadlineMs`, the stream is aborted at that age.
 */
export function guarded (credentials: Pick<PeerCredentials, 'authorize'>, protocol: string, roles: readonly Role[], handler: StreamHandler, options: { deadlineMs?: number } = {}): StreamHandler {
  return async (stream, connection) => {
    try {
      credentials.authorize(connection.remotePeer.toString(), roles, protocol, connection)
    } catch (err) {
      await refuse(stream, err as ForbiddenError)
      return
    }
    const deadline = options.deadlineMs == null
      ? undefined
      : setTimeout(() => { stream.abort(new ProtocolError(`${protocol} stream still open after ${options.deadlineMs} ms`)) }, options.deadlineMs)
    deadline?.unref()
    try {
      await handler(stream, connection)
    } finally {
      clearTimeout(deadline)
    }
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
