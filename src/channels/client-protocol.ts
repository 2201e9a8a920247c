import type { Libp2p, AbortOptions, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import * as v from 'valibot'
import { JsonStream, MAX_MESSAGE_BYTES, requestJson } from '../transport/json-stream.ts'
import { toWireError, wireErrorSchema, RemoteError } from '../wire/wire-error.ts'
import { CLIENT_PROTOCOL, clientRequestSchema } from './schema.ts'
import type { ClientRequest } from './schema.ts'
import type { Channel } from './channel.ts'
import type { RoleCheck } from '../trust/credentials.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'
import { PeerBudget } from '../transport/peer-budget.ts'
import { smallRequestsBudget } from '../transport/read-budget.ts'
import { RateLimitedError } from '../errors.ts'

const replySchema = v.variant('ok', [
  v.object({ ok: v.literal(true), value: v.optional(v.unknown()), found: v.optional(v.boolean()), entries: v.optional(v.array(v.tuple([v.string(), v.unknown()]))) }),
  v.object({ ok: v.literal(false), error: wireErrorSchema })
])
/** A list carries a whole channel: the default byte cap (64 MiB) plus JSON's framing. */
const MAX_LIST_BYTES = 128 * 1024 * 1024

export type ChannelReply = v.InferOutput<typeof replySchema>

/** Where the handler finds channels: `write` opens one for good (counted in maxChannels), `read` at most for a while (Channels.forRead). */
export interface ClientChannels {
  /** `peer`: who reads (opening a channel for it is paid from its budget). */
  read: (name: string, peer: string) => Channel
  write: (name: string) => Channel
}

/**
 * What one peer's lists may cost (the bytes of the channels listed): 2 MiB a second, 32 MiB at once, at least
 * 1 KiB a list. A list serialises a whole channel (up to 64 MiB, more from remote writes) for one small
 * request, and a peer that does not read holds each answer in its stream until the deadline (60 s).
 */
export function channelListBudget (): PeerBudget {
  return new PeerBudget({ perSecond: 2 * 1024 * 1024, burst: 32 * 1024 * 1024, minCost: 1024 })
}

/**
 * The handler of CLIENT_PROTOCOL: serves `grid channel get|set|del|list` (a CLI is a client,
 * not a member: the node reads, and writes for a member certificate). The node registers and unregisters it.
 * Each peer's lists are paid from `listBudget`; past it, a list is refused (ERR_RATE_LIMITED, counted), as is a
 * request past the bytes `reading` lets its peer have being read at once.
 */
export function channelClientHandler (channels: ClientChannels, roles: Pick<RoleCheck, 'authorize'>, rejections: Rejections, listBudget = channelListBudget(), reading = smallRequestsBudget(MAX_MESSAGE_BYTES)): StreamHandler {
  return async (stream, connection) => {
    const peer = connection.remotePeer.toString()
    const json = new JsonStream(stream, { maxBytes: MAX_MESSAGE_BYTES, budget: reading.of(peer) })
    try {
      let request: ClientRequest
      try {
        request = await json.readLast(clientRequestSchema, { signal: AbortSignal.timeout(5000) })
      } catch (err) {
        if (!(err instanceof RateLimitedError)) throw err
        // refused from its length, its body dropped as it comes: retryable
        reading.refused(rejections, CLIENT_PROTOCOL, peer, 'a channel request')
        await json.write({ ok: false, error: toWireError(err) })
        await json.close()
        return
      }
      let reply: ChannelReply
      try {
        const waitMs = request.op === 'list' ? listBudget.waitMs(peer) : 0
        if (waitMs > 0) {
          rejections.reject(CLIENT_PROTOCOL, 'rate-limited', peer, 'refused channel lists: too many from this peer', `retry in ${waitMs} ms`)
          throw new RateLimitedError(waitMs)
        }
        // reading is for every role the protocol admits; writing is a member's (DESIGN §11)
        const write = request.op === 'set' || request.op === 'del'
        if (write) roles.authorize(connection.remotePeer.toString(), ['member'], `${CLIENT_PROTOCOL} ${request.op}`, connection)
        // a read must not open a channel for good, or every certificate that reads could use up maxChannels
        const open = write ? channels.write(request.channel) : channels.read(request.channel, connection.remotePeer.toString())
        // a node that opens the channel for this request answers from the grid's state, not an empty map
        await open.ready
        reply = answer(request, open)
        if (request.op === 'list') listBudget.charge(peer, open.bytes)
      } catch (err) {
        reply = { ok: false, error: toWireError(err) }
      }
      await json.write(reply)
      await json.close()
    } catch (err) {
      rejections.reject(CLIENT_PROTOCOL, streamFailure(err), peer, 'dropped a channel request', String(err), { err })
      stream.abort(err as Error)
    }
  }
}

function answer (request: ClientRequest, channel: Channel): ChannelReply {
  switch (request.op) {
    case 'get': return { ok: true, found: channel.has(request.key), value: channel.get(request.key) }
    case 'set': channel.set(request.key, request.value); return { ok: true }
    case 'del': return { ok: true, found: channel.delete(request.key) }
    case 'list': return { ok: true, entries: channel.entries() }
  }
}

/** The CLI side: one request to the node at `target`; a refused write rethrows the node's error (its code kept). */
export async function requestChannel (libp2p: Libp2p, target: Multiaddr, request: ClientRequest, options: AbortOptions = {}): Promise<Extract<ChannelReply, { ok: true }>> {
  // a list carries the whole channel
  const reply = await requestJson(libp2p, target, CLIENT_PROTOCOL, request, replySchema, { ...options, maxBytes: MAX_LIST_BYTES })
  if (!reply.ok) throw new RemoteError(reply.error)
  return reply
}
