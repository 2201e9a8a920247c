import type { MemberEntry, MemberState } from './schema.ts'
import { significantChange } from './member.ts'
import type { Member, MemberEvent, MemberEventType } from './member.ts'
import { suspicionTimeout, expectedConfirmations } from './suspicion.ts'
import { StateIndex } from './table-index.ts'
import { TableRows } from './table-rows.ts'
import { markHeard, markHeardAt } from './seq-window.ts'
import type { HeartbeatOrder } from './seq-window.ts'
import { dropsUnanswered, heardOwnWord, heardUnverified, rowPlace } from './table-hearsay.ts'
import type { HearsayRows } from './table-hearsay.ts'
import { liveReports, ownClaims } from './table-claims.ts'
import { awaitingLine, lineOpened, startWatching } from './table-watch.ts'
import type { ClaimRows } from './table-claims.ts'
import type { Claim, LiveReport, MemberRecord, MemberTableInit } from './table-record.ts'

export type { Claim, LiveReport, MemberTableInit } from './table-record.ts'

/**
 * The member table and its state machine (SWIM + Lifeguard), pure: every
 * input carries `now`, every transition is returned as events. The node
 * itself is never in the table.
 */
export class MemberTable {
  private readonly init: MemberTableInit
  private records = new TableRows()
  /** Lifeguard's local health multiplier: >1 while this node itself is slow. */
  private slowness = 1
  /** The members this node watches (pings): only their silence is evidence here. Until set: every member. */
  private monitored?: Set<string>
  /** Ids by state, so the periodic work visits the few rows it concerns, not the whole table. */
  private index: StateIndex
  private readonly claimRows: ClaimRows = { peek: id => this.records.peek(id), watches: id => this.watches(id), hearsRecently: (rec, now) => this.hearsRecently(rec, now) }
  private readonly hearsayRows: HearsayRows = {
    peek: id => this.records.peek(id),
    get: id => this.records.get(id),
    merge: (entry, now) => this.merge(entry, now),
    transition: (rec, entry, now, type) => this.transition(rec, entry, now, type),
    event: (type, rec, now) => this.event(type, rec, now)
  }

  constructor (init: MemberTableInit) {
    this.init = init
    this.index = new StateIndex(init.onWatchable)
  }

  /** A table for another node (`init.selfId`, its own row left out) starting where this one is: rows shared, each table copying one it changes. */
  fork (init: MemberTableInit): MemberTable {
    const table = new MemberTable(init)
    table.records = this.records.fork()
    table.index = this.index.copy(init.onWatchable)
    table.remove(init.selfId)
    return table
  }

  /** A heartbeat's place (table-hearsay.ts): an incarnation older than the one it signed is a replay too. */
  heartbeatOrder (id: string, incarnation: number, seq: number): HeartbeatOrder {
    const rec = this.records.peek(id)
    return rec == null ? 'new' : rowPlace(rec, incarnation, seq)
  }

  /** A late heartbeat (older than one heard): its seq noted, its entry not (it is older than ours). */
  heardLate (id: string, seq: number): void {
    const rec = this.records.get(id)
    if (rec != null) markHeard(rec, seq)
  }

  /** A heartbeat the member itself signed (with its `seq`, for replay detection). */
  heard (entry: MemberEntry, now: number, seq?: number): MemberEvent[] {
    if (entry.id === this.init.selfId) return []
    const events = this.heardEntry(entry, now)
    const rec = this.records.get(entry.id)
    if (rec != null && seq != null && rec.entry.incarnation === entry.incarnation) markHeardAt(rec, entry.incarnation, seq)
    return events
  }

  private heardEntry (entry: MemberEntry, now: number): MemberEvent[] {
    const rec = this.records.get(entry.id)
    if (rec != null && !rec.direct) {
      // only others told us of it: its own word wins, whatever incarnation they claimed
      rec.direct = true
      rec.entry = { ...rec.entry, incarnation: entry.incarnation }
    }
    if (rec != null) rec.ownWordAt = now
    if (entry.state === 'left') return this.left(entry, now)
    // entries are values (every change makes a new one): an alive one is kept as given, not copied,
    // so a table of thousands holds no second copy of what the message parser already built
    if (rec == null) return this.add(entry.state === 'alive' ? entry : { ...entry, state: 'alive' }, now, true)
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

  /** A heartbeat (its `seq`) signed by a key no handshake verified yet: hearsay in its holder's word (table-hearsay.ts). */
  heardUnverified (entry: MemberEntry, now: number, seq?: number): MemberEvent[] {
    return entry.id === this.init.selfId ? [] : heardUnverified(this.hearsayRows, entry, now, seq)
  }

  /**
   * An entry from another member's table (join sync): hearsay, so at most a hint
   * (memberlist/Lifeguard). A stranger said alive or suspect is listed (unverified)
   * so we dial it; a member's `left` or `failed` comes only from its own signed
   * word or our own detection, so from a third party it is only a suspicion: we
   * report whether we still hear it, and suspect one we do not watch (as on a claim).
   */
  merge (entry: MemberEntry, now: number): MemberEvent[] {
    if (entry.id === this.init.selfId) return []
    const rec = this.records.get(entry.id)
    if (rec == null) {
      // a member that left or failed before we ever saw it is no news: not listed,
      // so departed members do not travel from table to table
      if (entry.state === 'left' || entry.state === 'failed') return []
      return this.add({ ...entry, state: 'alive' }, now, false)
    }
    const prior = rec.entry
    if (entry.incarnation < prior.incarnation) return []
    if (entry.state !== 'alive') {
      rec.contestedUntil = now + this.init.suspectAfterMs
      this.index.contested.add(entry.id)
      // a failure or leave this node missed (paused, cut off while it was gossiped): one it does not watch is suspected, as on a claim
      const missed = (entry.state === 'failed' || entry.state === 'left') && prior.state === 'alive' && !this.watches(entry.id)
      return missed ? this.suspectOnClaim(rec, now) : []
    }
    // a newer alive entry updates only a row that is hearsay itself, and not one holding the member's
    // own signed word: a third party's incarnation would hide its heartbeats, its figures and
    // addresses would replace the member's own (placement, dials) until a handshake
    if (rec.direct || heardOwnWord(rec) || entry.incarnation === prior.incarnation) return []
    rec.entry = { ...entry, state: prior.state }
    return significantChange(prior, rec.entry) ? [this.event('member:update', rec, now)] : []
  }

  /**
   * Another member suspects or failed `claim.id`: a confirmation if we suspect it too. A member
   * we do not watch ourselves is suspected on the claim (its watchers' word is all we have), and
   * fails at the suspicion timeout unless it refutes — with a higher incarnation, its own word.
   * A claimer no handshake verified (`verified` false) never confirms: anyone can mint keys.
   */
  claim (from: string, claim: Claim, now: number, verified = true): MemberEvent[] {
    const rec = this.records.get(claim.id)
    if (rec == null || claim.incarnation < rec.entry.incarnation || from === this.init.selfId) return []
    rec.contestedUntil = now + this.init.suspectAfterMs
    this.index.contested.add(claim.id)
    if (rec.entry.state === 'suspect' && verified) (rec.confirmations ??= new Set()).add(from)
    // a heartbeat heard lately is no evidence against it: the claim is about the silence since
    if (rec.entry.state !== 'alive' || this.watches(claim.id)) return []
    return this.suspectOnClaim(rec, now)
  }

  /** Suspects an alive member on others' word (it fails at the suspicion timeout unless it refutes). */
  private suspectOnClaim (rec: MemberRecord, now: number): MemberEvent[] {
    rec.suspectedAt = now
    // the claim that starts a suspicion is not its own confirmation (Lifeguard): one member's
    // word alone gets the full timeout, time for the member to hear of it and refute it
    rec.confirmations = undefined
    rec.ownClaim = false
    return this.transition(rec, { ...rec.entry, state: 'suspect' }, now, 'member:suspect')
  }

  /**
   * A beat or a ping's answer: the member's own word on a stream its certificate authenticated, so a
   * row only others told us of is its own word from now on, at the incarnation it gives.
   */
  acked (id: string, incarnation: number, now: number): MemberEvent[] {
    const rec = this.records.get(id)
    if (rec != null && !rec.direct) Object.assign(rec, { direct: true, entry: { ...rec.entry, incarnation } })
    if (rec == null || incarnation < rec.entry.incarnation) return []
    Object.assign(rec, { ownWordAt: now, watchedAt: undefined })
    if (rec.entry.state === 'suspect') return this.transition(rec, { ...rec.entry, state: 'alive' }, now, 'member:update')
    if (rec.entry.state === 'alive') rec.lastHeardAt = now
    return []
  }

  /** The members this node watches from now on; one newly watched is silent only from when its line opens (table-watch.ts). */
  setMonitored (ids: Iterable<string>, now: number): void {
    const next = new Set(ids)
    for (const id of next) if (this.monitored?.has(id) !== true && this.records.peek(id)?.entry.state === 'alive') startWatching(this.records.get(id)!, now)
    this.monitored = next
  }

  /** The beat line to a watched member opened: its silence counts from now if it was waiting for one. */
  lineOpened (id: string, now: number): void {
    if (this.records.peek(id)?.watchedAt != null) lineOpened(this.records.get(id)!, now, this.init.suspectAfterMs * this.slowness)
  }

  private watches (id: string): boolean {
    return this.monitored == null || this.monitored.has(id)
  }

  /** Ids of the members that may be watched: alive or suspect. */
  watchable (): string[] {
    return this.ids(state => state === 'alive' || state === 'suspect')
  }

  private ids (which: (state: MemberState) => boolean): string[] {
    return [...this.records.values()].filter(rec => which(rec.entry.state)).map(rec => rec.entry.id)
  }

  /** Changes whenever `watchable()` would. */
  get version (): number {
    return this.index.version
  }

  /** Another member still hears a member we suspect: the suspicion is refuted. */
  liveReport (report: LiveReport, now: number): MemberEvent[] {
    const rec = this.records.get(report.id)
    if (rec == null || report.incarnation < rec.entry.incarnation || rec.entry.state !== 'suspect') return []
    // others' word defers a failure only so long: a member whose own heartbeat we have not had
    // for a whole suspicion cycle fails, however many peers (a hostile one included) say they hear it
    if (now - rec.ownWordAt > this.init.suspectAfterMs + this.init.suspicionMaxMs) return []
    // only news refutes: heard after the suspicion began. A watcher that last heard the member a
    // moment before another's threshold passed has no evidence against the suspicion, and reviving
    // on it would only make the watchers take turns (a crash detected at the slowest one's pace)
    if (now - report.ageMs < rec.suspectedAt) return []
    rec.lastHeardAt = Math.max(rec.lastHeardAt, now - report.ageMs)
    if (!this.hearsRecently(rec, now)) return []
    // heard by someone else `ageMs` ago, not by us now: keep that time
    const heardAt = rec.lastHeardAt
    const events = this.transition(rec, { ...rec.entry, state: 'alive' }, now, 'member:update')
    rec.lastHeardAt = heardAt
    return events
  }

  /**
   * A dial to the member failed (timed out). A row only others told us of, or only an unverified key
   * signed, is dropped after a few unless its signed word is fresh within `quietMs` (table-hearsay.ts):
   * hearsay is not redialled for a day, and not kept alive by those who told us (a hostile sync cannot
   * make us dial ghosts forever).
   */
  unanswered (id: string, now: number, quietMs = 0): MemberEvent[] {
    const rec = this.records.get(id)
    if (rec == null || rec.direct || rec.entry.state === 'failed' || rec.entry.state === 'left') return []
    if (!dropsUnanswered(rec, now, quietMs)) return []
    return this.transition(rec, { ...rec.entry, state: 'failed' }, now, 'member:fail')
  }

  /** The connection closed and a redial was refused: nobody listens there any more. */
  unreachable (id: string, now: number): MemberEvent[] {
    const rec = this.records.get(id)
    if (rec == null || (rec.entry.state !== 'alive' && rec.entry.state !== 'suspect')) return []
    rec.ownClaim = true
    return this.transition(rec, { ...rec.entry, state: 'failed' }, now, 'member:fail')
  }

  /** Periodic failure detection: alive -> suspect -> failed. */
  tick (now: number): MemberEvent[] {
    const events: MemberEvent[] = []
    const expected = expectedConfirmations(this.count(['alive', 'suspect']), this.init.watchers)
    const silenceMatters = this.monitored ?? this.ids(state => state === 'alive')
    for (const id of [...silenceMatters, ...this.index.byState.suspect]) {
      // looked at, not taken: a forked table copies only the rows it changes
      const seen = this.records.peek(id)
      if (seen == null) continue
      const state = seen.entry.state
      if (state === 'alive' && this.watches(id) && !this.hearsRecently(seen, now) && !awaitingLine(seen, now, this.init.suspectAfterMs * this.slowness)) {
        const rec = this.records.get(id)!
        rec.suspectedAt = now
        rec.confirmations = undefined
        rec.ownClaim = true
        events.push(...this.transition(rec, { ...rec.entry, state: 'suspect' }, now, 'member:suspect'))
      } else if (state === 'suspect') {
        const timeout = this.slowness * suspicionTimeout(seen.confirmations?.size ?? 0, expected, this.init.suspicionMinMs, this.init.suspicionMaxMs)
        if (now - seen.suspectedAt >= timeout) events.push(...this.transition(this.records.get(id)!, { ...seen.entry, state: 'failed' }, now, 'member:fail'))
      }
    }
    return events
  }

  /** Drops failed rows older than `forgetFailedAfterMs` and left rows older than `forgetLeftAfterMs`; returns them. */
  forget (now: number): Member[] {
    const forgotten: Member[] = []
    for (const id of [...this.index.byState.failed, ...this.index.byState.left]) {
      const rec = this.records.peek(id)!
      const state = rec.entry.state
      const limit = state === 'failed' ? this.init.forgetFailedAfterMs : state === 'left' ? this.init.forgetLeftAfterMs : undefined
      if (limit != null && now - rec.stateSince > limit) {
        forgotten.push(this.view(rec, now))
        this.remove(id)
      }
    }
    return forgotten
  }

  /** Stretch every timeout by `multiplier` (>= 1) while this node is overloaded: its own lateness is not blamed on others. */
  setSlowness (multiplier: number): void {
    this.slowness = Math.max(1, multiplier)
  }

  /** After this process was paused (GC stall, SIGSTOP): nobody else's silence is evidence. */
  forgive (now: number): void {
    for (const id of this.watchable()) {
      const rec = this.records.get(id)
      if (rec != null) Object.assign(rec, { lastHeardAt: now, ownWordAt: now, suspectedAt: now })
    }
  }

  /** What our heartbeat gossips: the members we suspect or recently failed. */
  suspects (now: number): Claim[] {
    return ownClaims([...this.index.byState.suspect, ...this.index.byState.failed], this.claimRows, now, this.init.suspectAfterMs * 10)
  }

  /** Live reports for members someone else doubts but we, watching them, still hear. */
  hears (now: number): LiveReport[] {
    return liveReports(this.index.contested, this.claimRows, now)
  }

  get (id: string, now: number): Member | undefined {
    const rec = this.records.peek(id)
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
    return this.index.count(states)
  }

  private left (entry: MemberEntry, now: number): MemberEvent[] {
    const rec = this.records.get(entry.id)
    if (rec == null) {
      if (this.records.size < this.init.maxMembers) this.insert(this.record(entry, now))
      return []
    }
    if (entry.incarnation < rec.entry.incarnation) return []
    // left again in a life never heard alive here: a heartbeat of it that comes late is late, not a rejoin
    if (rec.entry.state === 'left') { rec.entry = entry; return [] }
    return this.transition(rec, entry, now, 'member:leave')
  }

  /** A new row, if the table has room. Full: a member heard directly takes the place of a hearsay row (failed); hearsay waits. */
  private add (entry: MemberEntry, now: number, direct: boolean): MemberEvent[] {
    const events: MemberEvent[] = []
    if (this.records.size >= this.init.maxMembers) {
      const victim = direct ? [...this.records.values()].find(r => !r.direct) : undefined
      if (victim == null) {
        this.init.onFull?.(entry.id)
        return []
      }
      events.push(...this.transition(this.records.get(victim.entry.id)!, { ...victim.entry, state: 'failed' }, now, 'member:fail'))
    }
    const rec = this.record(entry, now, direct)
    this.insert(rec)
    return [...events, this.event('member:join', rec, now)]
  }

  private record (entry: MemberEntry, now: number, direct = true): MemberRecord {
    return { entry, lastHeardAt: now, ownWordAt: now, stateSince: now, suspectedAt: now, contestedUntil: 0, direct, seq: -1, seqSeen: 0, seqIncarnation: entry.incarnation, unanswered: 0, signedAt: -Infinity, ownClaim: false }
  }

  private transition (rec: MemberRecord, entry: MemberEntry, now: number, type: MemberEventType): MemberEvent[] {
    if (entry.state !== rec.entry.state) {
      rec.stateSince = now
      this.index.move(entry.id, rec.entry.state, entry.state)
    }
    if (entry.state === 'alive') rec.lastHeardAt = now
    rec.entry = entry
    // hearsay that never answered is dropped, not redialled for a day
    if (entry.state === 'failed' && !rec.direct) this.remove(entry.id)
    return [this.event(type, rec, now)]
  }

  private insert (rec: MemberRecord): void {
    this.records.set(rec.entry.id, rec)
    this.index.add(rec.entry.id, rec.entry.state)
  }

  private remove (id: string): void {
    const rec = this.records.peek(id)
    if (rec == null) return
    this.records.delete(id)
    this.index.remove(id, rec.entry.state)
  }

  private hearsRecently (rec: Readonly<MemberRecord>, now: number): boolean {
    return now - rec.lastHeardAt < this.init.suspectAfterMs * this.slowness
  }

  private event (type: MemberEventType, rec: Readonly<MemberRecord>, now: number): MemberEvent {
    return { type, member: this.view(rec, now) }
  }

  private view (rec: Readonly<MemberRecord>, now: number): Member {
    return { ...rec.entry, lastSeenMs: Math.max(0, Math.round(now - rec.lastHeardAt)) }
  }
}
