import type { FiredRecord, Lease } from './types.ts'

/** Lease timings (ms). The safety argument in README "Schedules" rests on their relations. */
export interface LeaseTimings {
  /** How long a written lease lasts. */
  leaseMs: number
  /** A holder renews this often (well inside leaseMs). */
  renewMs: number
  /**
   * A lease is taken over only this long after it ran out: time for its
   * holder's last renewal to reach every member (gossip delay plus clock
   * skew). At least renewMs: a renewal written just before a pause, and
   * published only after it, extends the lease by at most about renewMs.
   */
  graceMs: number
  /** After writing a claim, wait this long for a competing claim to arrive before holding it (LWW picks one winner everywhere). */
  settleMs: number
  /** A step this much later than the one before means the process was paused (SIGSTOP, a long GC): drop the lease. */
  pauseMs: number
  /** After such a pause, claim nothing for this long: time to hear what the grid did meanwhile. */
  quietAfterPauseMs: number
}

export const LEASE_DEFAULTS: LeaseTimings = { leaseMs: 1500, renewMs: 400, graceMs: 800, settleMs: 400, pauseMs: 600, quietAfterPauseMs: 3000 }

export type LeasePhase = 'idle' | 'claiming' | 'holding'

/** What one step decided: a lease to write (claim, renew or release), and whether ticks may fire now. */
export interface LeaseStep {
  write?: Lease
  /** Set while holding a valid lease: fire ticks in `(lease.from, now]`. */
  holding?: Lease
  /** Set on a release (no longer elected): the ticks due in `(lease.from, now]` are still this holder's, fired as it hands over. */
  releasing?: Lease
  /** Why the phase changed, for the log. */
  change?: string
}

/**
 * One node's side of one schedule's lease (pure: the caller passes the time,
 * whether this node is the elected holder, and the channel's lease and fired
 * record). A node fires only while it holds a lease it wrote, whose token no
 * fired record has passed, and whose `until` is still ahead of its clock.
 */
export class LeaseKeeper {
  phase: LeasePhase = 'idle'
  private token = 0
  private claimedAt = 0
  private renewedAt = 0
  private lastStep?: number
  /**
   * The `until` this holder's lease had when its last on-time step began: written by an earlier step,
   * so published while the process still ran. Every member has it within the grace; none may claim
   * before it plus the grace.
   */
  private publishedUntil = 0
  private quietUntil = 0
  private released?: { lease: Lease, until: number, writtenAt: number }
  private readonly self: string
  private readonly timings: LeaseTimings

  constructor (self: string, timings: LeaseTimings = LEASE_DEFAULTS) {
    this.self = self
    this.timings = timings
  }

  step (now: number, elected: boolean, lease: Lease | undefined, fired: FiredRecord | undefined): LeaseStep {
    const t = this.timings
    const last = this.lastStep
    this.lastStep = now
    const ours = lease != null && lease.holder === this.self && lease.token === this.token
    const fenced = fired != null && fired.token > this.token
    if (last != null && now - last > t.pauseMs) {
      // a holder that wakes before the lease it had published runs out keeps it: nobody may claim before
      // that plus the grace, and its renewal, written now by a running process, arrives within the grace
      // (a stalled event loop on a loaded machine would otherwise drop a lease and its ticks every time)
      if (this.phase === 'holding' && ours && !fenced && now < this.publishedUntil) {
        const kept = this.keep(now, elected, lease, t)
        return { ...kept, change: kept.change ?? `paused for ${now - last} ms, inside the lease it had published: kept` }
      }
      // woke from a pause: what we believed may be stale, and our timers ran before the grid's news was read
      const was = this.phase
      this.phase = 'idle'
      this.quietUntil = now + t.quietAfterPauseMs
      return { change: `paused for ${now - last} ms: lease dropped (was ${was}); quiet until the grid's state is read again` }
    }
    if (this.phase === 'holding') {
      if (!ours || fenced || now >= lease.until) {
        this.phase = 'idle'
        return { change: !ours ? 'lease taken by another' : fenced ? 'fenced by a higher token' : 'lease ran out' }
      }
      this.publishedUntil = lease.until
      return this.keep(now, elected, lease, t)
    }
    if (this.phase === 'claiming') {
      if (!ours || fenced) {
        this.phase = 'idle'
        return { change: 'lost the claim to another' }
      }
      if (now - this.claimedAt < t.settleMs) return {}
      this.phase = 'holding'
      this.renewedAt = now
      // nothing of this lease's was published from a holding step yet (what an earlier lease left is past)
      this.publishedUntil = 0
      const renewed = { ...lease, until: now + t.leaseMs }
      return { write: renewed, holding: renewed, change: `holding with token ${this.token}` }
    }
    const released = this.released
    if (released != null && now < released.until && ours && now - released.writtenAt >= t.renewMs) {
      // written again (same value, new stamp) for a while: a successor that just came back from a
      // pause may have missed the first write, and would otherwise wait out, and lose, the old lease's ticks
      released.writtenAt = now
      return { write: released.lease }
    }
    if (!elected || now < this.quietUntil) return {}
    if (lease != null && now <= lease.until + t.graceMs) return {}
    this.token = Math.max(lease?.token ?? 0, fired?.token ?? 0) + 1
    this.phase = 'claiming'
    this.claimedAt = now
    // ticks after the old lease are ours; those inside it were its holder's alone: when that was
    // this node (back from a pause, or restarted), the ones it did not fire are still its own to fire
    const from = lease?.holder === this.self ? Math.max(lease.from, fired?.tick ?? 0) : Math.max(lease?.until ?? 0, fired?.tick ?? 0)
    return { write: { holder: this.self, token: this.token, from, until: now + t.leaseMs }, change: `claiming with token ${this.token}` }
  }

  /** A step of a valid lease this node holds: hand it over if no longer elected, else renew it when due. */
  private keep (now: number, elected: boolean, lease: Lease, t: LeaseTimings): LeaseStep {
    if (!elected) {
      // hand over at once: the elected node takes ticks after `now`
      this.phase = 'idle'
      const released = { ...lease, until: now }
      this.released = { lease: released, until: now + t.quietAfterPauseMs + t.graceMs, writtenAt: now }
      return { write: released, releasing: released, change: 'no longer the elected holder: released' }
    }
    if (now - this.renewedAt >= t.renewMs) {
      this.renewedAt = now
      const renewed = { ...lease, until: now + t.leaseMs }
      return { write: renewed, holding: renewed }
    }
    return { holding: lease }
  }
}
