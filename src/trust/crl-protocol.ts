import * as v from 'valibot'
import type { AbortOptions, Libp2p, Stream, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { JsonStream } from '../transport/json-stream.ts'
import { toWireError, wireErrorSchema, RemoteError } from '../wire/wire-error.ts'
import { CrlError, ProtocolError } from '../errors.ts'
import { MAX_CRL_BYTES } from './crl-parse.ts'
import type { VerifiedCrl } from './crl-parse.ts'
import type { CrlOutcome, CrlStore } from './crl-store.ts'
import type { Rejections } from '../transport/rejections.ts'
import type { Logger } from '../logger.ts'

/**
 * Hands a CRL to a node: the sender offers its CRL number, the receiver says
 * whether that is newer than its own, and only then the CRL itself crosses
 * (as base64 DER), so the exchange on every new connection costs two small
 * messages when both sides already agree.
 */
export const CRL_PROTOCOL = '/gridd/crl/1.0.0'

/** Base64 of the largest CRL, plus room for the JSON around it. */
const MAX_MESSAGE_BYTES = Math.ceil(MAX_CRL_BYTES / 3) * 4 + 1024
const TIMEOUT_MS = 10_000

/** A CRL number as decimal text (JSON has no big integers; RFC 5280 allows 20 octets, < 10^49). */
const crlNumber = v.pipe(v.string(), v.regex(/^\d{1,49}$/))
const offerSchema = v.object({ number: crlNumber })
const answerSchema = v.object({ want: v.boolean(), number: v.optional(crlNumber) })
const crlSchema = v.object({ crl: v.pipe(v.string(), v.maxLength(MAX_MESSAGE_BYTES), v.base64()) })
const resultSchema = v.variant('ok', [
  v.object({ ok: v.literal(true), outcome: v.picklist(['accepted', 'not-newer']), number: crlNumber }),
  v.object({ ok: v.literal(false), error: wireErrorSchema })
])

export interface OfferResult {
  outcome: CrlOutcome
  /** The receiver's CRL number afterwards. */
  number: bigint
}

/** The sending side, on a stream of CRL_PROTOCOL: offers `crl`, sends it if wanted. A refusal throws RemoteError. */
export async function offerCrl (stream: Stream, crl: VerifiedCrl, options: AbortOptions = {}): Promise<OfferResult> {
  const json = new JsonStream(stream, { maxBytes: MAX_MESSAGE_BYTES })
  const signal = options.signal ?? AbortSignal.timeout(TIMEOUT_MS)
  try {
    await json.write({ number: crl.number.toString() }, { signal })
    const answer = await json.read(answerSchema, { signal })
    if (!answer.want) return { outcome: 'not-newer', number: BigInt(answer.number ?? '0') }
    await json.write({ crl: Buffer.from(crl.der).toString('base64') }, { signal })
    const result = await json.read(resultSchema, { signal })
    if (!result.ok) throw new RemoteError(result.error)
    return { outcome: result.outcome, number: BigInt(result.number) }
  } finally {
    await json.close({ signal })
  }
}

/**
 * The receiving side: a CRL newer than the one held is verified and kept (the
 * store then enforces and spreads it); one that does not verify is counted as
 * a rejected message and answered with its CrlError.
 */
export function crlHandler (store: CrlStore, rejections: Rejections, log: Logger): StreamHandler {
  return async (stream, connection) => {
    const peer = connection.remotePeer.toString()
    const json = new JsonStream(stream, { maxBytes: MAX_MESSAGE_BYTES })
    const signal = AbortSignal.timeout(TIMEOUT_MS)
    try {
      const offer = await json.read(offerSchema, { signal })
      const held = store.current?.number
      if (held != null && BigInt(offer.number) <= held) {
        await json.endRead()
        await json.write({ want: false, number: held.toString() }, { signal })
        await json.close({ signal })
        return
      }
      await json.write({ want: true, number: held?.toString() }, { signal })
      const { crl } = await json.readLast(crlSchema, { signal })
      await json.write(receive(store, Buffer.from(crl, 'base64'), peer, rejections), { signal })
      await json.close({ signal })
    } catch (err) {
      if (err instanceof ProtocolError) rejections.reject(CRL_PROTOCOL, 'malformed', peer, 'dropped a malformed CRL message', err.message, { err })
      else log.debug({ peer, err }, 'CRL exchange failed')
      stream.abort(err as Error)
    }
  }
}

function receive (store: CrlStore, der: Uint8Array, peer: string, rejections: Rejections): v.InferOutput<typeof resultSchema> {
  try {
    const outcome = store.offer(der, peer)
    return { ok: true, outcome, number: (store.current?.number ?? 0n).toString() }
  } catch (err) {
    if (!(err instanceof CrlError)) throw err
    rejections.reject(CRL_PROTOCOL, 'invalid', peer, 'rejected a revocation list', err.message, { err })
    return { ok: false, error: toWireError(err) }
  }
}

/** `grid certs revoke --peer`: hands `crl` to the node at `target` (which spreads it if it is newer). */
export async function pushCrl (libp2p: Pick<Libp2p, 'dialProtocol'>, target: Multiaddr, crl: VerifiedCrl, options: AbortOptions = {}): Promise<OfferResult> {
  return await offerCrl(await libp2p.dialProtocol(target, CRL_PROTOCOL, options), crl, options)
}
