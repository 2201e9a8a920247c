import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { isMultiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import * as v from 'valibot'
import { MAX_MESSAGE_BYTES, requestJson } from '../transport/json-stream.ts'
import { wireErrorSchema, RemoteError } from '../wire/wire-error.ts'
import { GridError, NotSerializableError, PeerUnreachableError, ProtocolNotServedError, ValueTooLargeError } from '../errors.ts'
import { checkOption } from '../checks/check.ts'
import { peerId as peerIdPiece } from '../checks/values.ts'

/** How long `ctx.request` waits for an answer when its caller gives no signal. */
export const ADDON_REQUEST_TIMEOUT_MS = 10_000

export const addonReplySchema = v.variant('ok', [
  v.object({ ok: v.literal(true), value: v.unknown() }),
  v.object({ ok: v.literal(false), error: wireErrorSchema })
])

/**
 * `ctx.request`: one JSON request to `protocol` on `target`, its answer or the handler's error (RemoteError).
 * Every other failure is a GridError with a code an add-on can match: a body JSON cannot carry, a peer that
 * serves no such protocol, a peer that cannot be reached or does not answer in time. (libp2p's own errors,
 * UnsupportedProtocolError and the rest, carry no `code`, and JSON.stringify's TypeError names no option.)
 * A caller's `signal` or the add-on's stop ends it with that signal's reason, as every gridd wait does.
 */
export async function addonRequest (libp2p: Libp2p, target: string | Multiaddr, protocol: string, body: unknown, stopped: AbortSignal, callerSignal?: AbortSignal): Promise<unknown> {
  // a string that is no peer id would reach libp2p's decoder, whose error names neither the option nor the rule
  const to = isMultiaddr(target) ? target : peerIdFromString(checkOption('peer', peerIdPiece, target))
  checkBody(body)
  const timeout = callerSignal == null ? AbortSignal.timeout(ADDON_REQUEST_TIMEOUT_MS) : undefined
  const signal = AbortSignal.any([stopped, callerSignal ?? timeout!])
  let reply
  try {
    reply = await requestJson(libp2p, to, protocol, body, addonReplySchema, { signal })
  } catch (err) {
    if (err instanceof GridError) throw err
    const peer = to.toString()
    if ((err as Error | undefined)?.name === 'UnsupportedProtocolError') throw new ProtocolNotServedError(peer, protocol, { cause: err })
    if (timeout?.aborted === true) throw new PeerUnreachableError(peer, { cause: err, hint: `no answer on ${protocol} within ${ADDON_REQUEST_TIMEOUT_MS} ms` })
    if (signal.aborted) throw signal.reason
    throw new PeerUnreachableError(peer, { cause: err })
  }
  if (!reply.ok) throw new RemoteError(reply.error)
  return reply.value
}

/** The body as the handler will read it: JSON, within the size a handler takes (else the peer resets the stream). */
function checkBody (body: unknown): void {
  let text: string | undefined
  try {
    text = JSON.stringify(body ?? {})
  } catch (err) {
    throw new NotSerializableError('the request body', err)
  }
  if (text === undefined) throw new NotSerializableError('the request body', undefined, `(${typeof body}) is not JSON`)
  const bytes = Buffer.byteLength(text)
  if (bytes > MAX_MESSAGE_BYTES) throw new ValueTooLargeError('body', bytes, MAX_MESSAGE_BYTES)
}
