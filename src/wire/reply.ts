import * as v from 'valibot'
import type { Libp2p, AbortOptions, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { requestJson } from '../transport/json-stream.ts'
import { RemoteError, wireErrorSchema } from './wire-error.ts'

/** The reply of gridd's one-request protocols (schedules, deployments, add-ons): a value, or the node's error. */
export const replySchema = v.variant('ok', [
  v.object({ ok: v.literal(true), value: v.optional(v.unknown()) }),
  v.object({ ok: v.literal(false), error: wireErrorSchema })
])

/** One request on `protocol`; the node's refusal comes back as a RemoteError with its code. */
export async function requestReply (libp2p: Libp2p, target: PeerId | Multiaddr, protocol: string, request: unknown, options: AbortOptions = {}): Promise<unknown> {
  const reply = await requestJson(libp2p, target, protocol, request, replySchema, options)
  if (!reply.ok) throw new RemoteError(reply.error)
  return reply.value
}
