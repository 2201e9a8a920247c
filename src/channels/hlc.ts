/**
 * Hybrid logical clock (Kulkarni et al.): a timestamp is the largest physical
 * time seen (ms) plus a counter, so it follows wall time, never goes back, and
 * orders an event after everything its node had seen. Ties between writers
 * break on the writer's peer id.
 */
export interface Hlc {
  /** Physical part, ms since the epoch. */
  t: number
  /** Logical counter within one `t`. */
  c: number
}

/**
 * Largest counter: a counter that would pass it advances the physical part by
 * one ms instead, so no stamp can sit at a counter no later write can beat.
 */
export const MAX_COUNTER = 0xffff

export interface Stamp extends Hlc {
  /** Peer id of the writer. */
  origin: string
}

export class HlcClock {
  private last: Hlc = { t: 0, c: 0 }
  private readonly physical: () => number
  /** A remote stamp further ahead of our wall clock than this is refused (a broken clock must not drag ours). */
  readonly maxDriftMs: number

  constructor (options: { now?: () => number, maxDriftMs?: number } = {}) {
    this.physical = options.now ?? Date.now
    this.maxDriftMs = options.maxDriftMs ?? 60_000
  }

  /** A stamp for a local event, after every stamp seen so far. */
  tick (): Hlc {
    const p = this.physical()
    this.last = p > this.last.t ? { t: p, c: 0 } : bounded(this.last.t, this.last.c + 1)
    return { ...this.last }
  }

  /**
   * The longest anyone can have held a write stamped `t`: since then by our wall clock, plus the drift we
   * allow a writer ahead of us. Bounds a sender's claim of how long it has held a tombstone.
   */
  mostHeldMs (t: number): number {
    return Math.max(0, this.physical() - t + this.maxDriftMs)
  }

  /** Merges a remote stamp; false (and no change) when it is too far in the future. */
  receive (remote: Hlc): boolean {
    const p = this.physical()
    if (remote.t - p > this.maxDriftMs || remote.c > MAX_COUNTER) return false
    const t = Math.max(p, this.last.t, remote.t)
    let c = 0
    if (t === this.last.t && t === remote.t) c = Math.max(this.last.c, remote.c) + 1
    else if (t === this.last.t) c = this.last.c + 1
    else if (t === remote.t) c = remote.c + 1
    this.last = bounded(t, c)
    return true
  }
}

function bounded (t: number, c: number): Hlc {
  return c > MAX_COUNTER ? { t: t + 1, c: 0 } : { t, c }
}

/** Total order of stamps: time, then counter, then writer id. */
export function compareStamps (a: Stamp, b: Stamp): number {
  if (a.t !== b.t) return a.t - b.t
  if (a.c !== b.c) return a.c - b.c
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0
}
