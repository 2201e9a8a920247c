/**
 * When to redial each failed member: capped exponential backoff for as long
 * as `reconnectForMs` after it failed (libp2p itself gives up after ~30 s).
 * Pure bookkeeping; the membership service does the dialling.
 */
export class ReconnectSchedule {
  private readonly firstMs: number
  private readonly maxMs: number
  private readonly forMs: number
  private readonly entries = new Map<string, { since: number, next: number, delay: number }>()

  constructor (init: { firstMs: number, maxMs: number, forMs: number }) {
    this.firstMs = init.firstMs
    this.maxMs = init.maxMs
    this.forMs = init.forMs
  }

  add (id: string, now: number): void {
    if (!this.entries.has(id)) this.entries.set(id, { since: now, next: now + this.firstMs, delay: this.firstMs })
  }

  remove (id: string): void {
    this.entries.delete(id)
  }

  /** Members due for a dial now; each is rescheduled with a doubled delay. Expired ones are dropped. */
  due (now: number): string[] {
    const ids: string[] = []
    for (const [id, entry] of this.entries) {
      if (now - entry.since > this.forMs) {
        this.entries.delete(id)
      } else if (now >= entry.next) {
        ids.push(id)
        entry.delay = Math.min(entry.delay * 2, this.maxMs)
        entry.next = now + entry.delay
      }
    }
    return ids
  }

  has (id: string): boolean {
    return this.entries.has(id)
  }
}
