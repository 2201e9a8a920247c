/**
 * Collects values pushed during one event-loop turn and hands them over as
 * one batch: items and results cross every hop (owner -> agent -> worker and
 * back) in batches, so per-message costs are paid once per turn, not per item.
 */
export class Batcher<T> {
  private readonly flush: (batch: T[]) => void
  private readonly max: number
  private pending: T[] = []
  private scheduled = false

  constructor (flush: (batch: T[]) => void, max = 1024) {
    this.flush = flush
    this.max = max
  }

  push (value: T): void {
    this.pending.push(value)
    if (this.pending.length >= this.max) this.drain()
    else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => { this.drain() })
    }
  }

  /** Hands over what is pending now, not at the end of the turn (before the caller blocks the event loop). */
  drain (): void {
    this.scheduled = false
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    this.flush(batch)
  }
}
