import type { MemberEntry, MemberState } from './schema.ts'
import { STATE_RANK, significantChange } from './member.ts'
import type { Member, MemberEvent, MemberEventType } from './member.ts'
import { suspicionTimeout, expectedConfirmations } from './suspicion.ts'

export interface MemberTableInit {
  selfId: string
  suspectAfterMs: number
  suspicionMinMs: number
  suspicionMaxMs: number
  /** How long failed members stay listed (and are redialled). */
  forgetFailedAfterMs: number
  /** How long members that left stay listed (then `forget` drops them). */
  forgetLeftAfterMs: number
}

interface MemberRecord {
  entry: MemberEntry
  lastHeardAt: number
  stateSince: number
  suspectedAt: number
  confirmations: Set<string>
  /** Until when someone else claims this member is suspect or failed (so we report what we hear). */
  contestedUntil: number
}

export interface Claim {
  id: string
  incarnation: number
  state: 'suspect' | 'failed'
}

export interface LiveReport {
  id: string
  incarnation: number
  ageMs: number
}

/**
 * The member table and its state machine (SWIM + Lifeguard), pure: every
 * input carries `now`, every transition is returned as events. The node
 * itself is never in the table.
 */
export class MemberTable {
  private readonly init: MemberTableInit
  private readonly records = new Map<string, MemberRecord>()
  /** Lifeguard's local health multiplier: >1 while this node itself is slow. */
  private slowness = 1

  constructor (init: MemberTableInit) {
    this.init = init
  }

  /** A heartbeat the member itself signed. */
  heard (entry: MemberEntry, now: number): MemberEvent[] {
    if (entry.id === this.init.selfId) return []
    const rec = this.records.get(entry.id)
    if (entry.state === 'left') return this.left(entry, now)
    if (rec == null) return this.add({ ...entry, state: 'alive' }, now)
    if (entry.incarnation < rec.entry.incarnation) return []
    const prior = rec.entry
    if (prior.state === 'failed' || prior.state === 'left') {
      // the same incarnation must refute first; a higher one (refuted, or restarted) is back
      if (entry.incarnation === prior.incarnation) return []
      return this.transition(rec, { ...entry, state: 'alive' }, now, 'member:rejoin')
    }
    rec.lastHeardAt = now
    if (prior.state === 'suspect') return this.transition(rec, { ...entry, state: 'alive' }, now, 'member:update')
    rec.entry = { ...entry, state: 'alive' }
    return significantChange(prior, rec.entry) ? [this.event('member:update', rec, now)] : []
  }

  /** An entry from another member's table (join sync): weaker evidence than hearing it. */
  merge (entry: MemberEntry, now: number): MemberEvent[] {
    if (entry.id === this.init.selfId) return []
    const rec = this.records.get(entry.id)
    if (rec == null) {
      if (entry.state === 'alive' || entry.state === 'suspect') return this.add({ ...entry, state: 'alive' }, now)
      // a member that left before we ever saw it is no news: not listed, so
      // departed members do not travel from table to table and outlive their while
      if (entry.state === 'left') return []
      // history (failed before we joined): listed, no event, and dated
      // outside the window in which we would gossip it as a fresh failure
      const past = now - this.init.suspectAfterMs * 10
      this.records.set(entry.id, { ...this.record(entry, now), lastHeardAt: past, stateSince: past })
      return []
    }
    const prior = rec.entry
    if (entry.incarnation < prior.incarnation) return []
    const newer = entry.incarnation > prior.incarnation
    if (entry.state === 'alive' || entry.state === 'suspect') {
      if (!newer) return []
      if (prior.state === 'failed' || prior.state === 'left') return this.transition(rec, { ...entry, state: 'alive' }, now, 'member:rejoin')
      rec.entry = { ...entry, state: prior.state }
      return significantChange(prior, rec.entry) ? [this.event('member:update', rec, now)] : []
    }
    if (!newer && STATE_RANK[entry.state] <= STATE_RANK[prior.state]) return []
    if (entry.state === 'left') return this.transition(rec, entry, now, 'member:leave')
    // failed: not while we still hear it ourselves
    if (this.hearsRecently(rec, now)) {
      rec.contestedUntil = now + this.init.suspectAfterMs
      return []
    }
    return this.transition(rec, entry, now, 'member:fail')
  }

  /** Another member suspects or failed `claim.id`: a confirmation if we suspect it too. */
  claim (from: string, claim: Claim, now: number): void {
    const rec = this.records.get(claim.id)
    if (rec == null || claim.incarnation < rec.entry.incarnation) return
    rec.contestedUntil = now + this.init.suspectAfterMs
    if (rec.entry.state === 'suspect' && from !== this.init.selfId) rec.confirmations.add(from)
  }

  /** Another member still hears a member we suspect: the suspicion is refuted. */
  liveReport (report: LiveReport, now: number): MemberEvent[] {
    const rec = this.records.get(report.id)
    if (rec == null || report.incarnation < rec.entry.incarnation || rec.entry.state !== 'suspect') return []
    rec.lastHeardAt = Math.max(rec.lastHeardAt, now - report.ageMs)
    if (!this.hearsRecently(rec, now)) return []
    // heard by someone else `ageMs` ago, not by us now: keep that time
    const heardAt = rec.lastHeardAt
    const events = this.transition(rec, { ...rec.entry, state: 'alive' }, now, 'member:update')
    rec.lastHeardAt = heardAt
    return events
  }

  /** The connection closed and a redial was refused: nobody listens there any more. */
  unreachable (id: string, now: number): MemberEvent[] {
    const rec = this.records.get(id)
    if (rec == null || (rec.entry.state !== 'alive' && rec.entry.state !== 'suspect')) return []
    return this.transition(rec, { ...rec.entry, state: 'failed' }, now, 'member:fail')
  }

  /** Periodic failure detection: alive -> suspect -> failed. */
  tick (now: number): MemberEvent[] {
    const events: MemberEvent[] = []
    const expected = expectedConfirmations(this.count(['alive', 'suspect']))
    for (const rec of this.records.values()) {
      const state = rec.entry.state
      if (state === 'alive' && !this.hearsRecently(rec, now)) {
        rec.suspectedAt = now
        rec.confirmations = new Set()
        events.push(...this.transition(rec, { ...rec.entry, state: 'suspect' }, now, 'member:suspect'))
      } else if (state === 'suspect') {
        const timeout = this.slowness * suspicionTimeout(rec.confirmations.size, expected, this.init.suspicionMinMs, this.init.suspicionMaxMs)
        if (now - rec.suspectedAt >= timeout) events.push(...this.transition(rec, { ...rec.entry, state: 'failed' }, now, 'member:fail'))
      }
    }
    return events
  }

  /** Drops failed rows older than `forgetFailedAfterMs` and left rows older than `forgetLeftAfterMs`; returns them. */
  forget (now: number): Member[] {
    const forgotten: Member[] = []
    for (const [id, rec] of this.records) {
      const state = rec.entry.state
      const limit = state === 'failed' ? this.init.forgetFailedAfterMs : state === 'left' ? this.init.forgetLeftAfterMs : undefined
      if (limit != null && now - rec.stateSince > limit) {
        forgotten.push(this.view(rec, now))
        this.records.delete(id)
      }
    }
    return forgotten
  }

  /**
   * Stretch every timeout by `multiplier` (>= 1) while this node is overloaded,
   * so its own late processing of heartbeats is not blamed on others.
   */
  setSlowness (multiplier: number): void {
    this.slowness = Math.max(1, multiplier)
  }

  /** After this process was paused (GC stall, SIGSTOP): nobody else's silence is evidence. */
  forgive (now: number): void {
    for (const rec of this.records.values()) {
      if (rec.entry.state === 'alive' || rec.entry.state === 'suspect') {
        rec.lastHeardAt = now
        rec.suspectedAt = now
      }
    }
  }

  /** What our heartbeat gossips: the members we suspect or recently failed. */
  suspects (now: number): Claim[] {
    const claims: Claim[] = []
    for (const rec of this.records.values()) {
      const state = rec.entry.state
      if (state === 'suspect' || (state === 'failed' && now - rec.stateSince < this.init.suspectAfterMs * 10)) {
        claims.push({ id: rec.entry.id, incarnation: rec.entry.incarnation, state })
      }
    }
    return claims
  }

  /** Live reports for members someone else doubts but we still hear. */
  hears (now: number): LiveReport[] {
    const reports: LiveReport[] = []
    for (const rec of this.records.values()) {
      if (rec.contestedUntil > now && rec.entry.state === 'alive' && this.hearsRecently(rec, now)) {
        reports.push({ id: rec.entry.id, incarnation: rec.entry.incarnation, ageMs: now - rec.lastHeardAt })
      }
    }
    return reports
  }

  get (id: string, now: number): Member | undefined {
    const rec = this.records.get(id)
    return rec == null ? undefined : this.view(rec, now)
  }

  list (now: number): Member[] {
    return [...this.records.values()].map(rec => this.view(rec, now))
  }

  /** Full entries for a sync exchange. */
  entries (): MemberEntry[] {
    return [...this.records.values()].map(rec => rec.entry)
  }

  count (states: MemberState[]): number {
    let n = 0
    for (const rec of this.records.values()) if (states.includes(rec.entry.state)) n++
    return n
  }

  private left (entry: MemberEntry, now: number): MemberEvent[] {
    const rec = this.records.get(entry.id)
    if (rec == null) {
      this.records.set(entry.id, this.record(entry, now))
      return []
    }
    if (entry.incarnation < rec.entry.incarnation || rec.entry.state === 'left') return []
    return this.transition(rec, entry, now, 'member:leave')
  }

  private add (entry: MemberEntry, now: number): MemberEvent[] {
    const rec = this.record(entry, now)
    this.records.set(entry.id, rec)
    return [this.event('member:join', rec, now)]
  }

  private record (entry: MemberEntry, now: number): MemberRecord {
    return { entry, lastHeardAt: now, stateSince: now, suspectedAt: now, confirmations: new Set(), contestedUntil: 0 }
  }

  private transition (rec: MemberRecord, entry: MemberEntry, now: number, type: MemberEventType): MemberEvent[] {
    if (entry.state !== rec.entry.state) rec.stateSince = now
    if (entry.state === 'alive') rec.lastHeardAt = now
    rec.entry = entry
    return [this.event(type, rec, now)]
  }

  private hearsRecently (rec: MemberRecord, now: number): boolean {
    return now - rec.lastHeardAt < this.init.suspectAfterMs * this.slowness
  }

  private event (type: MemberEventType, rec: MemberRecord, now: number): MemberEvent {
    return { type, member: this.view(rec, now) }
  }

  private view (rec: MemberRecord, now: number): Member {
    return { ...rec.entry, lastSeenMs: Math.max(0, Math.round(now - rec.lastHeardAt)) }
  }
}
