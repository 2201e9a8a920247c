/**
 * Failed join attempts per source address: after `maxFailures` within
 * `windowMs`, that address is refused without a look at its request until the
 * window has passed. Bounded: at most `maxSources` addresses are tracked (the
 * oldest window is dropped first).
 */
export class FailureLimiter {
  private readonly sources = new Map<string, { since: number, failures: number }>()
  readonly maxFailures: number
  private readonly windowMs: number
  private readonly maxSources: number

  constructor (options: { maxFailures?: number, windowMs?: number, maxSources?: number } = {}) {
    this.maxFailures = options.maxFailures ?? 5
    this.windowMs = options.windowMs ?? 60_000
    this.maxSources = options.maxSources ?? 4096
  }

  /** Whether `source` is refused now. */
  blocked (source: string, now = Date.now()): boolean {
    const entry = this.current(source, now)
    return entry != null && entry.failures >= this.maxFailures
  }

  /** Counts a failure; returns the failures of `source` in its window so far. */
  fail (source: string, now = Date.now()): number {
    const entry = this.current(source, now) ?? { since: now, failures: 0 }
    entry.failures++
    this.sources.delete(source)
    this.sources.set(source, entry)
    while (this.sources.size > this.maxSources) this.sources.delete(this.sources.keys().next().value!)
    return entry.failures
  }

  private current (source: string, now: number): { since: number, failures: number } | undefined {
    const entry = this.sources.get(source)
    if (entry == null) return undefined
    if (now - entry.since >= this.windowMs) { this.sources.delete(source); return undefined }
    return entry
  }
}
