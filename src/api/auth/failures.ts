/** Addresses tracked at most: beyond it the oldest are forgotten (a flood of addresses cannot grow this without end). */
const MAX_ADDRESSES = 10_000

/**
 * Failed authentications per client address in a fixed window: past `max`,
 * an address is refused before its token is even verified (429), so guessing
 * tokens (or making the node verify signatures) costs the guesser, not the node.
 */
export class AuthFailures {
  private readonly max: number
  private readonly windowMs: number
  private readonly byAddress = new Map<string, { since: number, count: number }>()

  constructor (max: number, windowMs: number) {
    this.max = max
    this.windowMs = windowMs
  }

  /** Milliseconds until `address` may try again, or 0. */
  blockedFor (address: string, now = Date.now()): number {
    const entry = this.byAddress.get(address)
    if (entry == null || now - entry.since >= this.windowMs) return 0
    return entry.count >= this.max ? entry.since + this.windowMs - now : 0
  }

  record (address: string, now = Date.now()): void {
    let entry = this.byAddress.get(address)
    if (entry == null || now - entry.since >= this.windowMs) {
      this.byAddress.delete(address)
      if (this.byAddress.size >= MAX_ADDRESSES) this.byAddress.delete(this.byAddress.keys().next().value!)
      entry = { since: now, count: 0 }
      this.byAddress.set(address, entry)
    }
    entry.count++
  }
}
