import { setTimeout as delay } from 'node:timers/promises'
import { NoCapacityError } from '../errors.ts'

/** First wait after a placement that found no room, and the cap it doubles up to. */
export const PLACEMENT_BACKOFF = { initialMs: 250, maxMs: 5000 } as const

/** Exponential backoff, capped: 250 ms, 500 ms, 1 s, … 5 s, 5 s, … until `reset()`. */
export class Backoff {
  private readonly initialMs: number
  private readonly maxMs: number
  private nextMs: number

  constructor ({ initialMs, maxMs }: { initialMs: number, maxMs: number } = PLACEMENT_BACKOFF) {
    this.initialMs = initialMs
    this.maxMs = maxMs
    this.nextMs = initialMs
  }

  /** The wait before the next try (and doubles the one after). */
  next (): number {
    const ms = this.nextMs
    this.nextMs = Math.min(this.maxMs, ms * 2)
    return ms
  }

  reset (): void {
    this.nextMs = this.initialMs
  }
}

/**
 * Tries `place` until it finds room or `timeoutMs` has passed, backing off
 * between tries; only NoCapacityError is retried. Rejects with the last
 * NoCapacityError once the time is up.
 */
export async function retryPlacement<T> (place: () => Promise<T>, { timeoutMs, signal }: { timeoutMs: number, signal?: AbortSignal }): Promise<T> {
  const deadline = performance.now() + timeoutMs
  const backoff = new Backoff()
  for (;;) {
    try {
      return await place()
    } catch (err) {
      const left = deadline - performance.now()
      if (!(err instanceof NoCapacityError) || left <= 0) throw err
      // an abort rejects with the caller's reason, as everywhere else (delay's own is a bare AbortError)
      await delay(Math.min(backoff.next(), left), undefined, { signal }).catch((abort: unknown) => { signal?.throwIfAborted(); throw abort })
    }
  }
}
