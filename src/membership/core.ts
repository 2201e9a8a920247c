import { MemberTable } from './table.ts'
import type { MemberTableInit } from './table.ts'
import type { MemberEvent, Member } from './member.ts'
import type { Heartbeat, MemberEntry } from './schema.ts'
import { RememberedMembers } from './remembered.ts'
import { LocalHealth } from './local-health.ts'
import { MonitorRing } from './ring.ts'
import { PublishPolicy } from './publish-policy.ts'
import { MAX_GOSSIP_ENTRIES, MAX_INCARNATION_AHEAD_MS, MEMBERS_TOPIC, SYNC_PROTOCOL } from './constants.ts'
import type { MembershipConfig } from './config.ts'

export interface MembershipCoreHooks {
  /** A message or part of one dropped as bad: counted and logged (rate-limited) by the caller. */
  reject: (protocol: string, reason: string, from: string | undefined, message: string, detail: string) => void
  /** The entry as its certificate allows (an agent role the certificate lacks is dropped). */
  certify: <E extends MemberEntry>(entry: E) => E
  /**
   * Whether a handshake verified `id`'s certificate. A heartbeat whose signer was not verified is
   * hearsay (anyone can mint a key; the member relaying it vouches for none), and its claims never
   * confirm a suspicion. Default: every id (the simulator has no certificates).
   */
  verified?: (id: string) => boolean
  /** Wall-clock ms: incarnations are wall-clock times. */
  wallNow: () => number
  /** Why this node bumped its incarnation, for the log. */
  refuted?: (incarnation: number, why: string) => void
  /** Uniform in [0, 1): spreads the refreshes of nodes started together (default Math.random; the simulator seeds its own). */
  random?: () => number
}

/** What a tick found: events to emit, rows forgotten, and how long this node stood still if it was paused. */
export interface TickResult {
  events: MemberEvent[]
  forgotten: Member[]
  pausedMs?: number
}

/**
 * Membership's logic, without a network or a clock of its own: every input
 * carries `now` (monotonic ms), every output is returned. The libp2p node
 * (Membership) and the simulator (`npm run sim:membership`) drive this same
 * code. It holds the member table (SWIM/Lifeguard suspicion), this node's own
 * entry and incarnation, whom it watches (MonitorRing) and when it gossips
 * (PublishPolicy).
 */
export class MembershipCore {
  readonly table: MemberTable
  readonly remembered = new RememberedMembers()
  readonly tickMs: number
  private readonly config: MembershipConfig
  private readonly hooks: MembershipCoreHooks
  private readonly health: LocalHealth
  private readonly ring = new MonitorRing()
  private readonly policy: PublishPolicy
  private self: MemberEntry
  private seq = 0
  private lastTick: number
  private watched: string[] = []
  private ringVersion = -1

  /** `converged`: start from another table's rows (forked, see MemberTable.fork), not an empty table. */
  constructor (config: MembershipConfig, self: MemberEntry, now: number, hooks: MembershipCoreHooks, converged?: MemberTable) {
    this.config = config
    this.hooks = hooks
    this.self = self
    this.lastTick = now
    const tableInit: MemberTableInit = {
      maxMembers: config.maxMembers,
      onFull: id => { hooks.reject('membership', 'table-full', undefined, `member table full (${config.maxMembers}): not listing a new member`, id) },
      selfId: self.id,
      suspectAfterMs: config.suspectAfterMs,
      suspicionMinMs: config.suspicionMinMs,
      suspicionMaxMs: config.suspicionMaxMs,
      forgetFailedAfterMs: config.reconnectForMs,
      forgetLeftAfterMs: config.forgetLeftAfterMs,
      watchers: config.monitors,
      onWatchable: (id, watchable) => { if (watchable) this.ring.add(id); else this.ring.remove(id) }
    }
    this.table = converged?.fork(tableInit) ?? new MemberTable(tableInit)
    for (const id of this.table.watchable()) this.ring.add(id)
    this.tickMs = Math.max(20, Math.min(250, config.heartbeatMs / 4))
    this.health = new LocalHealth(this.tickMs)
    this.policy = new PublishPolicy({ heartbeatMs: config.heartbeatMs, refreshPerMemberMs: config.refreshPerMemberMs, minRefreshMs: config.refreshMinMs, random: hooks.random })
  }

  get id (): string {
    return this.self.id
  }

  entry (): MemberEntry {
    return this.self
  }

  setEntry (entry: MemberEntry): void {
    this.self = entry
  }

  /** The members this node pings this period (its ring successors). */
  targets (): string[] {
    return this.watched
  }

  /** The heartbeat to gossip now (`addresses` filled in by the caller), and the bookkeeping that it went out. */
  heartbeat (now: number, addresses: string[]): Heartbeat {
    const hb: Heartbeat = {
      v: 1,
      seq: this.seq++,
      member: { ...this.self, addresses },
      suspects: this.table.suspects(now).slice(0, MAX_GOSSIP_ENTRIES),
      hears: this.table.hears(now).slice(0, MAX_GOSSIP_ENTRIES)
    }
    this.policy.published(this.self, claimsKey(hb), now)
    return hb
  }

  /** Whether a heartbeat is due: news, standing claims, or the size-scaled refresh. */
  publishDue (now: number): boolean {
    const claims = { suspects: this.table.suspects(now), hears: this.table.hears(now) }
    const active = claims.hears.length > 0 || claims.suspects.some(c => c.state === 'suspect')
    return this.policy.due(this.self, claimsKey(claims), active, this.table.count(['alive', 'suspect']) + 1, now)
  }

  /** How long an unchanged entry waits for its refresh at the current size. */
  refreshMs (): number {
    return this.policy.refreshMs(this.table.count(['alive', 'suspect']) + 1)
  }

  /** A heartbeat authored (signed) by `from`; `publish` asks for ours at once (a refutation). */
  onHeartbeat (hb: Heartbeat, from: string, now: number): { events: MemberEvent[], publish: boolean } {
    const { member } = hb
    let publish = false
    if (this.tooFarAhead(member.incarnation)) {
      this.hooks.reject(MEMBERS_TOPIC, 'incarnation', from, 'dropped membership gossip: incarnation ahead of the clock', `incarnation ${member.incarnation}`)
      return { events: [], publish }
    }
    const order = this.table.heartbeatOrder(member.id, member.incarnation, hb.seq)
    if (order === 'replay' || this.leftAt(member.id, member.incarnation)) {
      this.hooks.reject(MEMBERS_TOPIC, 'replay', from, 'dropped replayed heartbeat', `incarnation ${member.incarnation} seq ${hb.seq}`)
      return { events: [], publish }
    }
    const verified = this.hooks.verified?.(from) ?? true
    // a late heartbeat (gossip reordered it) still brings its claims; its entry is older than ours
    const events = order === 'late' ? [] : verified ? this.table.heard(this.hooks.certify(member), now, hb.seq) : this.table.heardUnverified(this.hooks.certify(member), now, hb.seq)
    if (order === 'late') this.table.heardLate(member.id, hb.seq)
    for (const claim of hb.suspects) {
      if (this.tooFarAhead(claim.incarnation)) this.hooks.reject(MEMBERS_TOPIC, 'incarnation', from, 'dropped a suspicion: incarnation ahead of the clock', `incarnation ${claim.incarnation}`)
      else if (claim.id === this.self.id) publish = this.refute(claim.incarnation, `${from} reports us ${claim.state}`) || publish
      // an unverified claimer's word is one more voice, never a confirmation: keys cost nothing
      else events.push(...this.table.claim(from, claim, now, verified))
    }
    for (const report of hb.hears) events.push(...this.table.liveReport(report, now))
    return { events, publish }
  }

  /** A member table from `from` (push-pull sync); `publish` asks for our heartbeat at once. */
  onSync (entries: MemberEntry[], from: string, now: number): { events: MemberEvent[], publish: boolean } {
    const events: MemberEvent[] = []
    let publish = false
    // a table is at most maxMembers rows plus its sender: more is padding
    const max = this.config.maxMembers + 1
    if (entries.length > max) this.hooks.reject(SYNC_PROTOCOL, 'too-many-entries', from, 'member sync over the member cap: the rest ignored', `${entries.length} entries`)
    for (const entry of entries.slice(0, max)) {
      if (this.tooFarAhead(entry.incarnation)) {
        this.hooks.reject(SYNC_PROTOCOL, 'incarnation', from, 'dropped a member sync entry: incarnation ahead of the clock', `${entry.id} incarnation ${entry.incarnation}`)
      } else if (entry.id === this.self.id) {
        if (entry.state !== 'alive') publish = this.refute(entry.incarnation, `${from} lists us ${entry.state}`) || publish
      } else if (entry.id === from) {
        // the sender's own row, on a stream its certificate authenticated: its own word, like a
        // heartbeat, so a restarted member is back at its first sync, not its first heartbeat
        events.push(...this.table.heard(this.hooks.certify(entry), now))
      } else if (!this.leftAt(entry.id, entry.incarnation)) {
        events.push(...this.table.merge(this.hooks.certify(entry), now))
      }
    }
    return { events, publish }
  }

  /**
   * `id` left with `incarnation` or a later one and was forgotten since: word of it alive at that
   * incarnation (a replayed heartbeat, another member's table written before it heard the leave) is
   * stale; a restart (a higher incarnation) is news.
   */
  private leftAt (id: string, incarnation: number): boolean {
    const remembered = this.remembered.get(id)
    return remembered?.state === 'left' && incarnation <= remembered.incarnation
  }

  /** A watched member answered our ping with its incarnation. */
  onAck (id: string, incarnation: number, now: number): MemberEvent[] {
    if (this.tooFarAhead(incarnation)) return []
    return this.table.acked(id, incarnation, now)
  }

  /** The beat line to a watched member opened: a newly watched member's silence counts from now. */
  onLineOpened (id: string, now: number): void {
    this.table.lineOpened(id, now)
  }

  /**
   * A dial to `id` went unanswered. A hearsay row whose own signed heartbeats keep coming is kept
   * (table-hearsay.ts) while the last is under twice the refresh interval old: an unchanged member
   * gossips only at that interval, so a shorter window would fail it and list it again at each one.
   */
  onUnanswered (id: string, now: number): MemberEvent[] {
    return this.table.unanswered(id, now, 2 * this.refreshMs())
  }

  /** Failure detection, forgetting, and whom to watch next. */
  tick (now: number): TickResult {
    let pausedMs: number | undefined
    // a gap far beyond the tick means this process was paused (SIGSTOP, GC stall):
    // the silence of others during it is our own doing, not evidence against them
    if (now - this.lastTick > Math.max(1000, this.config.suspectAfterMs / 2)) {
      pausedMs = Math.round(now - this.lastTick)
      this.table.forgive(now)
    }
    this.health.observe(now - this.lastTick)
    this.table.setSlowness(this.health.multiplier())
    this.lastTick = now
    const events = this.table.tick(now)
    const forgotten = this.table.forget(now)
    for (const member of forgotten) this.remembered.add(member, now)
    if (this.table.version !== this.ringVersion) {
      this.ringVersion = this.table.version
      this.watched = this.ring.successors(this.self.id, this.config.monitors)
      this.table.setMonitored(this.watched, now)
    }
    return { events, forgotten, pausedMs }
  }

  /** A member is back in the live table: not history any more. */
  noteEvent (event: MemberEvent): void {
    if (event.type === 'member:join' || event.type === 'member:rejoin') this.remembered.delete(event.member.id)
  }

  /** Someone thinks we are suspect or failed at `incarnation`: outrank it (true: say so at once). */
  private refute (incarnation: number, why: string): boolean {
    if (incarnation < this.self.incarnation || this.self.state === 'left') return false
    // the claim is within the clock bound (checked on receipt), so this stays within the schema
    this.self = { ...this.self, incarnation: Math.min(Math.max(incarnation + 1, this.hooks.wallNow()), Number.MAX_SAFE_INTEGER) }
    this.hooks.refuted?.(this.self.incarnation, why)
    return true
  }

  /** An incarnation beyond this node's clock plus the allowed skew: forged, refused. */
  private tooFarAhead (incarnation: number): boolean {
    return incarnation > this.hooks.wallNow() + MAX_INCARNATION_AHEAD_MS
  }
}

/** Names the claims a heartbeat makes (ids and states, not ages): a change is news. */
function claimsKey (hb: Pick<Heartbeat, 'suspects' | 'hears'>): string {
  if (hb.suspects.length === 0 && hb.hears.length === 0) return ''
  return hb.suspects.map(c => `${c.id}:${c.state}:${c.incarnation}`).join(',') + '|' + hb.hears.map(h => `${h.id}:${h.incarnation}`).join(',')
}
