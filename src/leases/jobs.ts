import type { Logger } from '../logger.ts'
import { LeaseKeeper, LEASE_DEFAULTS } from './lease.ts'
import type { LeaseTimings } from './lease.ts'

/** The lease timings in `init` (any other keys ignored), the defaults for the rest. */
export function leaseTimings (init: object): LeaseTimings {
  return { ...LEASE_DEFAULTS, ...Object.fromEntries(Object.entries(init).filter(([k, val]) => k in LEASE_DEFAULTS && val != null)) }
}

/**
 * What a holder's loop keeps per keyed job (a schedule, a deployment): this
 * node's LeaseKeeper for each, and the jobs whose step threw, logged once until
 * they step cleanly again. One bad record (written by any member) must not stop
 * the others.
 */
export class KeyedLeases {
  readonly keepers = new Map<string, LeaseKeeper>()
  private readonly failing = new Set<string>()
  private readonly self: string
  private readonly timings: LeaseTimings
  private readonly log: Logger
  private readonly kind: string

  constructor (self: string, timings: LeaseTimings, log: Logger, kind: string) {
    this.self = self
    this.timings = timings
    this.log = log
    this.kind = kind
  }

  /** This node's keeper of job `id`'s lease (made on first use). */
  keeper (id: string): LeaseKeeper {
    let keeper = this.keepers.get(id)
    if (keeper == null) {
      keeper = new LeaseKeeper(this.self, this.timings)
      this.keepers.set(id, keeper)
    }
    return keeper
  }

  /** Forgets the jobs not in `live`; returns their ids (the caller drops what else it kept for them). */
  prune (live: Set<string>): string[] {
    const gone = [...this.keepers.keys()].filter(id => !live.has(id))
    for (const id of gone) this.keepers.delete(id)
    // a job may fail before it has a keeper: forgotten here too, or every bad id ever written stays
    for (const id of this.failing) if (!live.has(id)) this.failing.delete(id)
    return gone
  }

  /** `step(id)` for each job, a throw logged (once) and kept to that job. */
  each (ids: string[], step: (id: string) => void): void {
    for (const id of ids) {
      try {
        step(id)
      } catch (err) {
        if (!this.failing.has(id)) this.log.warn({ err, [this.kind]: id }, `${this.kind} step failed; it is skipped until it changes`)
        this.failing.add(id)
        continue
      }
      this.failing.delete(id)
    }
  }
}

/** What a sleeping loop listens to for news: a channel's `change`. */
export interface WakeSource {
  on: (event: 'change', listener: () => void) => unknown
  off: (event: 'change', listener: () => void) => unknown
}

/**
 * Calls `step` every `stepMs` while it reports work (a job it keeps a lease for); with none, every
 * `idleMs`, and again `stepMs` after any change to `wakeOn` (a job written, from here or another
 * member). An idle node has no jobs: two loops at 100 ms were 20 of its wake-ups a second.
 * Unref'd timers; a throw is logged and the loop goes on. Returns what stops it.
 */
export function stepLoop (stepMs: number, step: () => boolean, log: Logger, idle: { idleMs: number, wakeOn: WakeSource }): () => void {
  let timer: NodeJS.Timeout
  let sleeping = false
  const arm = (ms: number): void => {
    timer = setTimeout(loop, ms)
    timer.unref()
  }
  const loop = (): void => {
    let busy = true
    try {
      busy = step()
    } catch (err) {
      log.warn({ err }, 'lease step failed')
    }
    sleeping = !busy
    arm(busy ? stepMs : Math.max(stepMs, idle.idleMs))
  }
  const wake = (): void => {
    if (!sleeping) return
    sleeping = false
    clearTimeout(timer)
    arm(stepMs)
  }
  idle.wakeOn.on('change', wake)
  arm(stepMs)
  return () => {
    clearTimeout(timer)
    idle.wakeOn.off('change', wake)
  }
}
