import { EventEmitter } from 'node:events'
import type { Logger } from '../logger.ts'
import { MemberTable } from './table.ts'
import type { Member, MemberEvent } from './member.ts'
import type { Heartbeat, MemberEntry } from './schema.ts'
import type { MembershipEvents } from './events.ts'
import type { MembershipComponents, MembershipLibp2p, MembershipRoles } from './components.ts'
import { HeartbeatGossip } from './gossip.ts'
import { MemberSync } from './sync.ts'
import { MemberConnections } from './connections.ts'
import { RememberedMembers } from './remembered.ts'
import { CpuSampler, freeMemoryMb, machineCapacity } from './load.ts'
import { MAX_GOSSIP_ENTRIES, MAX_INCARNATION_AHEAD_MS, MEMBERS_TOPIC, SYNC_PROTOCOL } from './constants.ts'
import { Rejections } from '../transport/rejections.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import { LocalHealth } from './local-health.ts'
import type { MembershipConfig } from './config.ts'

/** The part of this node's load that its workers make; the agent reports it through a hook. */
export type WorkerLoad = Pick<MemberEntry['load'], 'workers' | 'maxWorkers' | 'slotsUsed' | 'memoryUsedMb' | 'stages'>

const NO_WORKERS: WorkerLoad = { workers: 0, maxWorkers: 0, slotsUsed: 0, memoryUsedMb: 0, stages: {} }
/** Lets the flood-published leave get on the wire before connections close. */
const LEAVE_LINGER_MS = 100

/**
 * Membership: who is in the grid and how they are. This node's own entry and
 * heartbeat, the failure detector's plumbing (SWIM/Lifeguard in MemberTable),
 * push-pull sync on every new connection, and a graceful `left`. Connections
 * are MemberConnections' job. Events (`member:join|update|suspect|fail|leave|rejoin`)
 * are emitted for subscribers: workers, channels, the node.
 */
export class Membership extends EventEmitter<MembershipEvents> {
  private readonly libp2p: MembershipLibp2p
  private readonly roles: MembershipRoles
  private readonly log: Logger
  private readonly config: MembershipConfig
  private readonly table: MemberTable
  private readonly remembered = new RememberedMembers()
  private readonly rejections: Rejections
  private readonly gossip: HeartbeatGossip
  private readonly sync: MemberSync
  private readonly connections: MemberConnections
  private readonly cpu = new CpuSampler()
  private readonly health: LocalHealth
  private readonly tickMs: number
  private workerLoad: () => WorkerLoad = () => NO_WORKERS
  private self: MemberEntry
  private seq = 0
  private lastTick = performance.now()
  private timers: NodeJS.Timeout[] = []
  private running = false

  constructor (components: MembershipComponents, config: MembershipConfig, log: Logger) {
    super()
    const { libp2p } = components
    this.libp2p = libp2p
    this.roles = components.roles
    this.log = log.child({ component: 'membership' })
    this.config = config
    this.rejections = new Rejections(this.log)
    this.table = new MemberTable({
      maxMembers: config.maxMembers,
      onFull: id => { this.rejections.reject('membership', 'table-full', undefined, `member table full (${config.maxMembers}): not listing a new member`, id) },
      selfId: libp2p.peerId.toString(),
      suspectAfterMs: config.suspectAfterMs,
      suspicionMinMs: config.suspicionMinMs,
      suspicionMaxMs: config.suspicionMaxMs,
      forgetFailedAfterMs: config.reconnectForMs,
      forgetLeftAfterMs: config.forgetLeftAfterMs
    })
    this.tickMs = Math.max(20, Math.min(250, config.heartbeatMs / 4))
    this.health = new LocalHealth(this.tickMs)
    this.gossip = new HeartbeatGossip(components.pubsub, components.roles, this.log, this.rejections, (hb, from) => { this.onHeartbeat(hb, from) })
    this.sync = new MemberSync(libp2p, components.roles, this.log, this.rejections, () => [this.selfEntry(), ...this.table.entries()], (entries, from) => { this.onSync(entries, from) })
    this.connections = new MemberConnections(libp2p, this.log, config, {
      lookup: id => this.table.get(id, performance.now()),
      refused: id => { this.apply(this.table.unreachable(id, performance.now())) }
    })
    this.self = {
      id: libp2p.peerId.toString(),
      addresses: [],
      state: 'alive',
      // time-based, so a restart with the same key always outranks the previous run
      incarnation: Date.now(),
      role: 'member',
      capacity: machineCapacity(),
      load: { cpu: 0, memoryFreeMb: freeMemoryMb(), ...NO_WORKERS },
      weight: 1,
      strategy: 'horizontal'
    }
  }

  async start (): Promise<void> {
    this.running = true
    this.gossip.start()
    await this.sync.start()
    this.connections.start()
    this.timers.push(setInterval(() => { void this.beat() }, this.config.heartbeatMs))
    this.timers.push(setInterval(() => { this.guarded('tick', () => { this.tick() }) }, this.tickMs))
    for (const timer of this.timers) timer.unref()
    void this.beat()
  }

  /** Announces `left` so others do not report a failure, then stops. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.clearTimers()
    this.connections.stop()
    this.self = { ...this.self, state: 'left' }
    await this.gossip.publish(this.heartbeat())
    await new Promise(resolve => setTimeout(resolve, LEAVE_LINGER_MS))
    this.gossip.stop()
    await this.sync.stop().catch(() => {})
  }

  /** Immediate: no leave announced, nothing waited for. */
  destroy (): void {
    this.running = false
    this.clearTimers()
    this.connections.stop()
    this.gossip.stop()
    void this.sync.stop().catch(() => {})
  }

  /** The live member table (never this node). */
  members (): Member[] {
    return this.table.list(performance.now())
  }

  /** Members dropped from the live table (left a while ago), newest last: for `grid status --all`. */
  rememberedMembers (): Member[] {
    return this.remembered.list(performance.now())
  }

  /** Messages from peers dropped as bad, by protocol and reason (`gridd_rejected_messages_total`). */
  rejected (): RejectedCount[] {
    return this.rejections.counters()
  }

  /** See MemberConnections.teachAddresses. */
  async teachAddresses (id: string): Promise<void> {
    await this.connections.teachAddresses(id)
  }

  selfMember (): Member {
    return { ...this.selfEntry(), lastSeenMs: 0 }
  }

  /** Changes this node's own entry (role, capacity, weight, strategy) and gossips it at once. */
  updateSelf (change: Partial<Omit<MemberEntry, 'id' | 'incarnation' | 'state' | 'load'>>): void {
    this.self = { ...this.self, ...change }
    if (this.running) void this.beat()
  }

  /** The agent's hook: its worker figures ride on every heartbeat. The only writer of those figures. */
  setLoadProvider (provider: () => WorkerLoad): void {
    this.workerLoad = provider
    this.loadChanged()
  }

  /** Worker figures changed (a worker started or exited): gossip them at once, not at the next beat. */
  loadChanged (): void {
    this.self = { ...this.self, load: { ...this.self.load, ...this.workerLoad() } }
    if (this.running) void this.publish()
  }

  private selfEntry (): MemberEntry {
    return { ...this.self, addresses: this.libp2p.getMultiaddrs().map(ma => ma.toString()) }
  }

  private heartbeat (): Heartbeat {
    const now = performance.now()
    return {
      v: 1,
      seq: this.seq++,
      member: this.selfEntry(),
      suspects: this.table.suspects(now).slice(0, MAX_GOSSIP_ENTRIES),
      hears: this.table.hears(now).slice(0, MAX_GOSSIP_ENTRIES)
    }
  }

  private async beat (): Promise<void> {
    if (!this.running) return
    // runs in a timer and reads the table (remote data): a throw is logged, never a crash
    try {
      this.self = { ...this.self, load: { ...this.self.load, cpu: this.cpu.sample(), memoryFreeMb: freeMemoryMb(), ...this.workerLoad() } }
      await this.publish()
    } catch (err) {
      this.log.warn({ err }, 'heartbeat failed')
    }
  }

  /** A timer's work: whatever remote data trips in it is logged (rate-limited) and the node goes on. */
  private guarded (what: string, work: () => void): void {
    try {
      work()
    } catch (err) {
      this.rejections.reject('membership', what, undefined, `membership ${what} failed`, String(err), { err })
    }
  }

  /** An incarnation beyond this node's clock plus the allowed skew: forged, refused. */
  private tooFarAhead (incarnation: number): boolean {
    return incarnation > Date.now() + MAX_INCARNATION_AHEAD_MS
  }

  private async publish (): Promise<void> {
    await this.gossip.publish(this.heartbeat())
  }

  private tick (): void {
    const now = performance.now()
    // a gap far beyond the tick means this process was paused (SIGSTOP, GC stall):
    // the silence of others during it is our own doing, not evidence against them
    if (now - this.lastTick > Math.max(1000, this.config.suspectAfterMs / 2)) {
      this.log.warn({ pausedMs: Math.round(now - this.lastTick) }, 'this node was paused; resetting failure detection')
      this.table.forgive(now)
    }
    this.health.observe(now - this.lastTick)
    this.table.setSlowness(this.health.multiplier())
    this.lastTick = now
    this.apply(this.table.tick(now))
    for (const member of this.table.forget(now)) {
      this.connections.forget(member.id)
      this.remembered.add(member, now)
      this.log.debug({ member: member.id, state: member.state }, 'member forgotten')
    }
    this.connections.tick(now, this.table.list(now))
  }

  private onHeartbeat (hb: Heartbeat, from: string): void {
    const now = performance.now()
    const { member } = hb
    if (this.tooFarAhead(member.incarnation)) {
      this.rejections.reject(MEMBERS_TOPIC, 'incarnation', from, 'dropped membership gossip: incarnation ahead of the clock', `incarnation ${member.incarnation}`)
      return
    }
    const remembered = this.remembered.get(member.id)
    if (this.table.isReplay(member.id, member.incarnation, hb.seq) || (remembered?.state === 'left' && member.incarnation <= remembered.incarnation)) {
      this.rejections.reject(MEMBERS_TOPIC, 'replay', from, 'dropped replayed heartbeat', `incarnation ${member.incarnation} seq ${hb.seq}`)
      return
    }
    const events = this.table.heard(this.asCertified(member), now, hb.seq)
    for (const claim of hb.suspects) {
      if (this.tooFarAhead(claim.incarnation)) this.rejections.reject(MEMBERS_TOPIC, 'incarnation', from, 'dropped a suspicion: incarnation ahead of the clock', `incarnation ${claim.incarnation}`)
      else if (claim.id === this.self.id) this.refute(claim.incarnation, `${from} reports us ${claim.state}`)
      else this.table.claim(from, claim, now)
    }
    for (const report of hb.hears) events.push(...this.table.liveReport(report, now))
    this.apply(events)
  }

  private onSync (entries: MemberEntry[], from: string): void {
    const now = performance.now()
    const events: MemberEvent[] = []
    // a table is at most maxMembers rows plus its sender: more is padding
    const max = this.config.maxMembers + 1
    if (entries.length > max) this.rejections.reject(SYNC_PROTOCOL, 'too-many-entries', from, 'member sync over the member cap: the rest ignored', `${entries.length} entries`)
    for (const entry of entries.slice(0, max)) {
      if (this.tooFarAhead(entry.incarnation)) {
        this.rejections.reject(SYNC_PROTOCOL, 'incarnation', from, 'dropped a member sync entry: incarnation ahead of the clock', `${entry.id} incarnation ${entry.incarnation}`)
      } else if (entry.id === this.self.id) {
        if (entry.state !== 'alive') this.refute(entry.incarnation, `${from} lists us ${entry.state}`)
      } else if (entry.id === from) {
        // the sender's own row, on a stream its certificate authenticated: its own word, like a
        // heartbeat, so a restarted member is back at its first sync, not its first heartbeat
        events.push(...this.table.heard(this.asCertified(entry), now))
      } else {
        events.push(...this.table.merge(this.asCertified(entry), now))
      }
    }
    this.apply(events)
    // learned of members we are not connected to: dial them (libp2p has no autodialer)
    this.connections.connectAll(this.table.list(now))
  }

  /**
   * An entry claiming the agent role whose certificate (verified at our handshake
   * with it) lacks that role is listed as a member, so no stage is placed on it;
   * it is re-judged at its next heartbeat. One we have not connected to yet keeps
   * its claim: the owner that places a stage there connects first, and ships
   * nothing unless the certificate holds the role (Workers).
   */
  private asCertified<E extends MemberEntry> (entry: E): E {
    if (entry.role !== 'agent') return entry
    const credential = this.roles.get(entry.id)
    if (credential == null || credential.roles.has('agent')) return entry
    return { ...entry, role: 'member' }
  }

  /** Someone thinks we are suspect or failed at `incarnation`: outrank it and say so at once. */
  private refute (incarnation: number, why: string): void {
    if (incarnation < this.self.incarnation || this.self.state === 'left') return
    // the claim is within the clock bound (checked on receipt), so this stays within the schema
    this.self = { ...this.self, incarnation: Math.min(Math.max(incarnation + 1, Date.now()), Number.MAX_SAFE_INTEGER) }
    this.log.info({ incarnation: this.self.incarnation, why }, 'refuting suspicion')
    void this.beat()
  }

  private apply (events: MemberEvent[]): void {
    const now = performance.now()
    for (const event of events) {
      const { member } = event
      if (event.type === 'member:join' || event.type === 'member:rejoin') this.remembered.delete(member.id)
      this.connections.observe(event, now)
      this.log.info({ member: member.id, state: member.state, incarnation: member.incarnation }, event.type)
      this.emit(event.type, member)
    }
  }

  private clearTimers (): void {
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
  }
}
