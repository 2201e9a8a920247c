import { MemberEventLog } from './event-log.ts'
import { EventEmitter } from 'node:events'
import type { Logger } from '../logger.ts'
import type { Member, MemberEvent } from './member.ts'
import type { Heartbeat, MemberEntry } from './schema.ts'
import type { MembershipEvents } from './events.ts'
import type { MembershipComponents, MembershipLibp2p, MembershipRoles } from './components.ts'
import { HeartbeatGossip } from './gossip.ts'
import { MemberSync } from './sync.ts'
import { MemberConnections } from './connections.ts'
import { MemberPings } from './pings.ts'
import { MemberBeats } from './beats.ts'
import { MachineLoad, freeMemoryMb, machineCapacity } from './load.ts'
import { Rejections } from '../transport/rejections.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import type { MembershipConfig } from './config.ts'
import { MembershipCore } from './core.ts'

/** The part of this node's load that its workers make; the agent reports it through a hook. */
export type WorkerLoad = Pick<MemberEntry['load'], 'workers' | 'maxWorkers' | 'slotsUsed' | 'memoryUsedMb' | 'stages'>

const NO_WORKERS: WorkerLoad = { workers: 0, maxWorkers: 0, slotsUsed: 0, memoryUsedMb: 0, stages: {} }
/** Lets the flood-published leave get on the wire before connections close. */
const LEAVE_LINGER_MS = 100
/** The machine's CPU and free memory are read every this many heartbeats (see MachineLoad). */
const MACHINE_SAMPLE_PERIODS = 5

/**
 * Membership: who is in the grid and how they are. This node's own entry and
 * heartbeat, the failure detector's plumbing (SWIM/Lifeguard in MemberTable),
 * push-pull sync on every new connection, and a graceful `left`. Connections
 * are MemberConnections' job. Events (`member:join|update|suspect|fail|leave|rejoin`)
 * are emitted for subscribers: workers, channels, the node.
 */
/**
 * Membership over libp2p: who is in the grid and how they are. The logic is
 * MembershipCore's (the member table with SWIM/Lifeguard suspicion, whom this
 * node watches, when it gossips); this class wires it to the network: the
 * watchers' pings (MemberPings), heartbeats on gossipsub when there is news
 * (HeartbeatGossip), push-pull sync on every new connection (MemberSync) and
 * connections (MemberConnections), and emits `member:join|update|suspect|fail|leave|rejoin`
 * for subscribers: workers, channels, the node.
 */
export class Membership extends EventEmitter<MembershipEvents> {
  private readonly libp2p: MembershipLibp2p
  private readonly roles: MembershipRoles
  private readonly log: Logger
  /** Member event lines, bounded: a member can mint members. */
  private readonly eventLines: MemberEventLog
  private readonly config: MembershipConfig
  private readonly core: MembershipCore
  private readonly rejections: Rejections
  private readonly gossip: HeartbeatGossip
  private readonly sync: MemberSync
  private readonly pings: MemberPings
  private readonly beats: MemberBeats
  private readonly connections: MemberConnections
  /** Machine figures at most every 5 heartbeats; worker figures are this node's own, fresh every period. */
  private readonly machine: MachineLoad
  private workerLoad: () => WorkerLoad = () => NO_WORKERS
  private timers: NodeJS.Timeout[] = []
  private abort = new AbortController()
  private running = false

  constructor (components: MembershipComponents, config: MembershipConfig, log: Logger) {
    super()
    const { libp2p } = components
    this.libp2p = libp2p
    this.roles = components.roles
    this.log = log.child({ component: 'membership' })
    this.eventLines = new MemberEventLog(this.log)
    this.config = config
    this.machine = new MachineLoad(MACHINE_SAMPLE_PERIODS * config.heartbeatMs)
    this.rejections = new Rejections(this.log)
    this.core = new MembershipCore(config, {
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
    }, performance.now(), {
      reject: (protocol, reason, from, message, detail) => { this.rejections.reject(protocol, reason, from, message, detail) },
      certify: entry => this.asCertified(entry),
      // a handshake recorded its certificate: the mTLS encrypter records every peer it verified
      verified: id => this.roles.get(id) != null,
      wallNow: () => Date.now(),
      refuted: (incarnation, why) => { this.log.info({ incarnation, why }, 'refuting suspicion') }
    })
    this.gossip = new HeartbeatGossip(components.pubsub, components.roles, this.log, this.rejections, (hb, from) => { this.onHeartbeat(hb, from) })
    this.sync = new MemberSync(libp2p, components.roles, this.log, this.rejections, () => [this.selfEntry(), ...this.core.table.entries()], (entries, from) => { this.onSync(entries, from) })
    this.pings = new MemberPings(libp2p, components.roles, this.log, this.rejections, () => this.core.entry().incarnation)
    this.beats = new MemberBeats({
      libp2p,
      roles: components.roles,
      log: this.log,
      rejections: this.rejections,
      periodMs: config.heartbeatMs,
      incarnation: () => this.core.entry().incarnation,
      onBeat: (id, incarnation) => { this.acked(id, incarnation) },
      onLine: id => { if (this.running) this.core.onLineOpened(id, performance.now()) }
    })
    this.connections = new MemberConnections(libp2p, this.log, config, {
      lookup: id => this.core.table.get(id, performance.now()),
      // a dial's outcome, in a promise nobody awaits: a throwing listener is logged, not an unhandled rejection
      refused: id => { this.guarded('dial', () => { this.apply(this.core.table.unreachable(id, performance.now())) }) },
      unanswered: id => { this.guarded('dial', () => { this.apply(this.core.onUnanswered(id, performance.now())) }) }
    })
  }

  async start (): Promise<void> {
    this.running = true
    this.abort = new AbortController()
    this.gossip.start()
    // beats and pings are served before sync makes this node known: a watcher whose beat line was
    // refused would ping it for as long as that connection lasts
    await this.pings.start()
    await this.beats.start()
    await this.sync.start()
    this.connections.start()
    this.timers.push(setInterval(() => { this.guarded('period', () => { this.period() }) }, this.config.heartbeatMs))
    this.timers.push(setInterval(() => { this.guarded('tick', () => { this.tick() }) }, this.core.tickMs))
    for (const timer of this.timers) timer.unref()
    void this.publish()
  }

  /** Announces `left` so others do not report a failure, then stops. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.clearTimers()
    this.abort.abort()
    this.connections.stop()
    this.core.setEntry({ ...this.core.entry(), state: 'left' })
    const leaving = this.tryHeartbeat()
    if (leaving != null) await this.gossip.publish(leaving)
    await new Promise(resolve => setTimeout(resolve, LEAVE_LINGER_MS))
    this.gossip.stop()
    await this.beats.stop().catch(() => {})
    await this.pings.stop().catch(() => {})
    await this.sync.stop().catch(() => {})
  }

  /** Immediate: no leave announced, nothing waited for. */
  destroy (): void {
    this.running = false
    this.clearTimers()
    this.abort.abort()
    this.connections.stop()
    this.gossip.stop()
    void this.beats.stop().catch(() => {})
    void this.pings.stop().catch(() => {})
    void this.sync.stop().catch(() => {})
  }

  /** The live member table (never this node). */
  members (): Member[] {
    return this.core.table.list(performance.now())
  }

  /** Members dropped from the live table (left a while ago), newest last: for `grid status --all`. */
  rememberedMembers (): Member[] {
    return this.core.remembered.list(performance.now())
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
    this.core.setEntry({ ...this.core.entry(), ...change })
    if (this.running) void this.publish()
  }

  /** The agent's hook: its worker figures ride on every heartbeat. The only writer of those figures. */
  setLoadProvider (provider: () => WorkerLoad): void {
    this.workerLoad = provider
    this.loadChanged()
  }

  /** Worker figures changed (a worker started or exited): gossip them at once, not at the next refresh. */
  loadChanged (): void {
    const self = this.core.entry()
    this.core.setEntry({ ...self, load: { ...self.load, ...this.workerLoad() } })
    if (this.running) void this.publish()
  }

  private selfEntry (): MemberEntry {
    return { ...this.core.entry(), addresses: this.addresses() }
  }

  private addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  /**
   * This node's heartbeat now, or undefined (logged) when it cannot be made (libp2p's addresses throw): its
   * callers gossip it as `void this.publish()`, where a throw would be an unhandled rejection ending the process.
   */
  private tryHeartbeat (): Heartbeat | undefined {
    try {
      return this.core.heartbeat(performance.now(), this.addresses())
    } catch (err) {
      this.log.error({ err }, 'could not make this node\'s heartbeat; not published')
      return undefined
    }
  }

  /**
   * Every heartbeatMs: sample the load, gossip if there is news, keep the beat lines to the members
   * this node watches (and ping those that only answer pings).
   */
  private period (): void {
    if (!this.running) return
    const self = this.core.entry()
    this.core.setEntry({ ...self, load: { ...self.load, ...this.machine.sample(performance.now()), ...this.workerLoad() } })
    if (this.core.publishDue(performance.now())) void this.publish()
    const targets = this.core.targets()
    this.connections.watch(targets)
    const pinged = this.beats.watch(targets)
    this.pings.keepLines(pinged)
    for (const id of pinged) void this.pingMember(id)
  }

  private async pingMember (id: string): Promise<void> {
    // a late answer is still the member's word: only a member silent for the whole suspicion
    // window is suspect, so the ping waits that long (and the next one is not sent meanwhile)
    const incarnation = await this.pings.ping(id, this.config.suspectAfterMs, this.abort.signal)
    if (incarnation != null) this.acked(id, incarnation)
  }

  /** A watched member's word (a beat, or a ping's answer): its incarnation. */
  private acked (id: string, incarnation: number): void {
    if (!this.running) return
    this.guarded('ack', () => { this.apply(this.core.onAck(id, incarnation, performance.now())) })
  }

  /** A timer's work: whatever remote data trips in it is logged (rate-limited) and the node goes on. */
  private guarded (what: string, work: () => void): void {
    try {
      work()
    } catch (err) {
      this.rejections.reject('membership', what, undefined, `membership ${what} failed`, String(err), { err })
    }
  }

  private async publish (): Promise<void> {
    if (!this.running) return
    const heartbeat = this.tryHeartbeat()
    if (heartbeat != null) await this.gossip.publish(heartbeat)
  }

  private tick (): void {
    const now = performance.now()
    const { events, forgotten, pausedMs } = this.core.tick(now)
    if (pausedMs != null) this.log.warn({ pausedMs }, 'this node was paused; resetting failure detection')
    this.apply(events)
    for (const member of forgotten) {
      this.connections.forget(member.id)
      this.log.debug({ member: member.id, state: member.state }, 'member forgotten')
    }
    this.connections.tick(now, this.core.table.list(now))
  }

  private onHeartbeat (hb: Heartbeat, from: string): void {
    const { events, publish } = this.core.onHeartbeat(hb, from, performance.now())
    this.apply(events)
    if (publish) void this.publish()
  }

  private onSync (entries: MemberEntry[], from: string): void {
    const { events, publish } = this.core.onSync(entries, from, performance.now())
    this.apply(events)
    if (publish) void this.publish()
    // learned of members we are not connected to: dial them (libp2p has no autodialer)
    this.connections.connectAll(this.core.table.list(performance.now()))
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

  private apply (events: MemberEvent[]): void {
    if (events.length === 0) return
    const now = performance.now()
    for (const event of events) {
      const { member } = event
      this.core.noteEvent(event)
      this.connections.observe(event, now)
      // its certificate's name when a handshake verified one: an operator reads "node-b", not a peer id
      const name = this.roles.nameOf(member.id)
      this.eventLines.info({ member: member.id, ...(name == null ? {} : { name }), state: member.state, incarnation: member.incarnation }, event.type)
      this.emit(event.type, member)
    }
    // a suspicion of our own (or its end) is news for the grid now, not at the next period
    if (this.running && this.core.publishDue(now)) void this.publish()
  }

  private clearTimers (): void {
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
  }
}
