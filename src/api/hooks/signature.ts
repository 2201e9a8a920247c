import { createHmac, timingSafeEqual } from 'node:crypto'
import { HookSignatureError } from '../../errors.ts'

export const SIGNATURE_HEADER = 'x-hub-signature-256'
export const TIMESTAMP_HEADER = 'x-gridd-timestamp'

/** Signatures remembered (to refuse replays within the window) at most. */
const MAX_REMEMBERED = 65_536

/**
 * `sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<raw body>`: GitHub's header
 * and format, with the timestamp signed in (as Stripe and Slack do), so a
 * captured call cannot be replayed later under a fresh timestamp.
 */
export function signHook (secret: string | Uint8Array, timestamp: number | string, body: Uint8Array | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${String(timestamp)}.`).update(body).digest('hex')}`
}

/**
 * Checks webhook calls: the signature (constant-time), the timestamp (seconds
 * since the epoch) within `windowMs` of now, and that the same signature was
 * not accepted before within the window (a replay), nor is being handled now.
 */
export class HookVerifier {
  private readonly windowMs: number
  private readonly seen = new Map<string, number>()

  constructor (windowMs: number) {
    this.windowMs = windowMs
  }

  /**
   * Throws HookSignatureError unless the call is good and new; then its signature is taken (a second call with it
   * is a replay) until the returned `release` gives it back: for a call refused after this check (rate limit,
   * task budget, a stopping node), which its sender may send again as it is.
   */
  verify (secret: Uint8Array, headers: { signature?: string, timestamp?: string }, body: Buffer, now = Date.now()): () => void {
    const { signature, timestamp } = headers
    if (signature == null || timestamp == null) throw new HookSignatureError(`a webhook call needs ${SIGNATURE_HEADER} and ${TIMESTAMP_HEADER}`)
    if (!/^\d{1,12}$/.test(timestamp)) throw new HookSignatureError(`${TIMESTAMP_HEADER} must be seconds since the epoch`)
    if (Math.abs(now - Number(timestamp) * 1000) > this.windowMs) throw new HookSignatureError(`${TIMESTAMP_HEADER} is more than ${this.windowMs / 1000} s from this node's clock`)
    const expected = Buffer.from(signHook(secret, timestamp, body))
    const given = Buffer.from(signature)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HookSignatureError('the signature does not match the body and timestamp')
    this.forgetOld(now)
    if (this.seen.has(signature)) throw new HookSignatureError('this call was already accepted (a replay)')
    if (this.seen.size >= MAX_REMEMBERED) throw new HookSignatureError('too many webhook calls within the window to tell replays apart; retry later')
    this.seen.set(signature, now)
    return () => { if (this.seen.get(signature) === now) this.seen.delete(signature) }
  }

  private forgetOld (now: number): void {
    // insertion order is acceptance order: the oldest come first
    for (const [signature, at] of this.seen) {
      if (now - at <= this.windowMs * 2) break
      this.seen.delete(signature)
    }
  }
}
