import type { Envelope } from './types.ts'

/**
 * One link of a pipeline as the link before it sees it (a stage, or the sink
 * as the last link). The upstream sends work out only while `room()` is
 * positive, so a link holds at most its bound plus what was already in flight.
 */
export interface Downstream {
  /** Items it takes before reaching its bound (0 or less: full). */
  room: () => number
  /** Items from the upstream; never refused. */
  accept: (items: Envelope[]) => void
  /** Calls `wake` once, when room frees (or the link closes; a link already closed may never call it: its upstream closes with the run). */
  onRoomFreed: (wake: () => void) => void
}

/** The upstreams waiting on one link's room: woken together when it frees, counted for the equalizer. */
export class RoomWaiters {
  /** Times an upstream found the link full, since it started. */
  waits = 0
  private waiting: Array<() => void> = []

  add (wake: () => void): void {
    this.waits++
    this.waiting.push(wake)
  }

  get size (): number {
    return this.waiting.length
  }

  /** A waiter that gave up (its push was aborted): no longer counted as an upstream held back. */
  remove (wake: () => void): void {
    this.waiting = this.waiting.filter(w => w !== wake)
  }

  wake (): void {
    if (this.waiting.length === 0) return
    const woken = this.waiting
    this.waiting = []
    for (const wake of woken) wake()
  }
}
