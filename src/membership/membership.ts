import { performance } from 'node:perf_hooks'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, PeerId } from '@libp2p/interface'
import type { GridLibp2p } from '../transport/libp2p.ts'
import type { Logger } from '../logger.ts'
import { MemberTable } from './table.ts'
import type { Member, MemberEvent } from './member.ts'
import type { Heartbeat, MemberEntry } from './schema.ts'
import { HeartbeatGossip } from './gossip.ts'
import { MemberSync } from './sync.ts'
import { ReconnectSchedule } from './reconnect.ts'
import { CpuSampler, freeMemoryMb, machineCapacity } from './load.ts'
import { MAX_GOSSIP_ENTRIES } from './constants.ts'
import { LocalHealth } from './local-health.ts'
import type { MembershipConfig } from './config.ts'

const REDIAL_TIMEOUT_MS = 2000

/**
 * Membership: who is in the grid and how they are. Heartbeats on gossipsub,
 * push-pull sync on every new connection, SWIM/Lifeguard failure detection,
 * a reconnect loop that outlasts libp2p's own, and a graceful `left`.
 */
export class Membership {
  private readonly libp2p: GridLibp2p
  private readonly log: Logger
  private readonly config: MembershipConfig
  private readonly table: MemberTable
  private readonly gossip: HeartbeatGossip
  private readonly sync: MemberSync
  private readonly reconnects: ReconnectSchedule
  private readonly cpu = new CpuSampler()
  private readonly onEvent: (event: MemberEvent) => void
  private readonly dialing = new Set<string>()
  /** When each member was last seen joining or rejoining, for mesh repair. */
  private readonly aliveSince = new Map<string, number>()
  private lastRepair = 0
  private self: MemberEntry
  private seq = 0
  private lastTick = performance.now()
  private timers: NodeJS.Timeout[] = []
  private running = false
  private readonly tickMs: number
  private readonly health: LocalHealth

  constructor (libp2p: GridLibp2p, log: Logger, config: MembershipConfig, onEvent: (event: MemberEvent) => void) {
    this.libp2p = libp2p
    this.log = log.child({ component: 'membership' })
    this.config = config
    this.onEvent = onEvent
    this.table = new MemberTable({
      selfId: libp2p.peerId.toString(),
      suspectAfterMs: config.suspectAfterMs,
      suspicionMinMs: config.suspicionMinMs,
      suspicionMaxMs: config.suspicionMaxMs,
      forgetFailedAfterMs: config.reconnectForMs,
      forgetLeftAfterMs: config.forgetLeftAfterMs
    })
    this.tickMs = Math.max(20, Math.min(250, config.heartbeatMs / 4))
    this.health = new LocalHealth(this.tickMs)
    this.reconnects = new ReconnectSchedule({ firstMs: config.heartbeatMs / 2, maxMs: config.reconnectMaxBackoffMs, forMs: config.reconnectForMs })
    this.gossip = new HeartbeatGossip(libp2p.services.pubsub, this.log, (hb, from) => { this.onHeartbeat(hb, from) })
    this.sync = new MemberSync(libp2p, this.log, () => [this.selfEntry(), ...this.table.entries()], (entries, from) => { this.onSync(entries, from) })
    this.self = {
      id: libp2p.peerId.toString(),
      addresses: [],
      state: 'alive',
      // time-based, so a restart with the same key always outranks the previous run
      incarnation: Date.now(),
      role: 'member',
      capacity: machineCapacity(),
      load: { cpu: 0, memoryFreeMb: freeMemoryMb(), workers: 0, maxWorkers: 0, slotsUsed: 0, memoryUsedMb: 0, stages: {} },
      weight: 1,
      strategy: 'horizontal'
    }
  }

  async start (): Promise<void> {
    this.running = true
    this.gossip.start()
    await this.sync.start()
    this.libp2p.addEventListener('connection:open', this.onConnectionOpen)
    this.libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
    this.timers.push(setInterval(() => { void this.beat() }, this.config.heartbeatMs))
    this.timers.push(setInterval(() => { this.tick() }, this.tickMs))
    for (const timer of this.timers) timer.unref()
    void this.beat()
  }

  /** Announces `left` so others do not report a failure, then stops. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
    this.self = { ...this.self, state: 'left' }
    await this.gossip.publish(this.heartbeat())
    // give the flood-published leave a moment on the wire before connections close
    await new Promise(resolve => setTimeout(resolve, 100))
    this.libp2p.removeEventListener('connection:open', this.onConnectionOpen)
    this.libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.gossip.stop()
    await this.sync.stop().catch(() => {})
  }

  members (): Member[] {
    return this.table.list(performance.now())
  }

  /**
   * Tells libp2p where a member listens, from the member table, unless a connection is open:
   * gossip can teach a member before any connection to it exists, and a protocol dial by peer
   * id needs addresses.
   */
  async teachAddresses (id: string): Promise<void> {
    const peer = peerIdFromString(id)
    if (this.libp2p.getConnections(peer).length > 0) return
    await this.rememberAddresses(peer, this.table.get(id, performance.now())?.addresses ?? [])
  }

  private async rememberAddresses (peer: PeerId, addresses: string[]): Promise<void> {
    if (addresses.length > 0) await this.libp2p.peerStore.merge(peer, { multiaddrs: addresses.map(a => multiaddr(a)) })
  }

  selfMember (): Member {
    return { ...this.selfEntry(), lastSeenMs: 0 }
  }

  /** Changes this node's own entry (role, load, weight, …) and gossips it at once. */
  updateSelf (change: Partial<Omit<MemberEntry, 'id' | 'incarnation' | 'state'>>): void {
    this.self = { ...this.self, ...change }
    if (this.running) void this.beat()
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
    this.self = { ...this.self, load: { ...this.self.load, cpu: this.cpu.sample(), memoryFreeMb: freeMemoryMb() } }
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
    for (const id of this.reconnects.due(now)) void this.redial(id)
    if (now - this.lastRepair >= this.config.heartbeatMs * 2) {
      this.lastRepair = now
      this.repairMesh(now)
    }
  }

  /**
   * Connect to members still unconnected two heartbeats after they appeared.
   * Joiners dial everyone they learn by sync at once; waiting here instead of
   * dialling on every join event keeps both sides of a pair from dialling
   * each other (one connection per pair, not two).
   */
  private repairMesh (now: number): void {
    for (const member of this.table.list(now)) {
      if (member.state !== 'alive') continue
      const since = this.aliveSince.get(member.id) ?? 0
      if (now - since >= this.config.heartbeatMs * 2) this.ensureConnected(member)
    }
  }

  private onHeartbeat (hb: Heartbeat, from: string): void {
    const now = performance.now()
    const events = this.table.heard(hb.member, now)
    for (const claim of hb.suspects) {
      if (claim.id === this.self.id) this.refute(claim.incarnation, `${from} reports us ${claim.state}`)
      else this.table.claim(from, claim, now)
    }
    for (const report of hb.hears) events.push(...this.table.liveReport(report, now))
    this.apply(events)
  }

  private onSync (entries: MemberEntry[], from: string): void {
    const now = performance.now()
    const events: MemberEvent[] = []
    for (const entry of entries) {
      if (entry.id === this.self.id) {
        if (entry.state !== 'alive') this.refute(entry.incarnation, `${from} lists us ${entry.state}`)
      } else {
        events.push(...this.table.merge(entry, now))
      }
    }
    this.apply(events)
    // learned of members we are not connected to: dial them (libp2p has no autodialer)
    for (const member of this.table.list(now)) {
      if (member.state === 'alive') this.ensureConnected(member)
    }
  }

  /** Someone thinks we are suspect or failed at `incarnation`: outrank it and say so at once. */
  private refute (incarnation: number, why: string): void {
    if (incarnation < this.self.incarnation || this.self.state === 'left') return
    this.self = { ...this.self, incarnation: Math.max(incarnation + 1, Date.now()) }
    this.log.info({ incarnation: this.self.incarnation, why }, 'refuting suspicion')
    void this.beat()
  }

  private apply (events: MemberEvent[]): void {
    for (const event of events) {
      const { id } = event.member
      if (event.type === 'member:fail') {
        this.reconnects.add(id, performance.now())
        // drop any half-dead connection so the reconnect loop dials afresh
        void this.libp2p.hangUp(peerIdFromString(id)).catch(() => {})
      } else if (event.type === 'member:join' || event.type === 'member:rejoin') {
        this.reconnects.remove(id)
        this.aliveSince.set(id, performance.now())
      } else if (event.type === 'member:leave') {
        this.reconnects.remove(id)
        this.aliveSince.delete(id)
      }
      this.log.info({ member: id, state: event.member.state, incarnation: event.member.incarnation }, event.type)
      this.onEvent(event)
    }
  }

  private ensureConnected (member: Member): void {
    if (!this.running || this.dialing.has(member.id)) return
    const peer = peerIdFromString(member.id)
    if (this.libp2p.getConnections(peer).length > 0) return
    if (this.libp2p.getPeers().length >= this.config.maxMeshPeers) return
    void this.dial(member.id, member.addresses)
  }

  private async redial (id: string): Promise<void> {
    const member = this.table.get(id, performance.now())
    if (member == null || member.state !== 'failed') {
      this.reconnects.remove(id)
      return
    }
    await this.dial(id, member.addresses)
  }

  /** Dials a member; true when connected. */
  private async dial (id: string, addresses: string[]): Promise<boolean> {
    if (this.dialing.has(id)) return false
    this.dialing.add(id)
    try {
      const peer = peerIdFromString(id)
      await this.rememberAddresses(peer, addresses)
      await this.libp2p.dial(peer, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) })
      return true
    } catch (err) {
      this.log.debug({ member: id, err }, 'dial failed')
      // a refused dial to a member we still count as alive: the process is gone
      if (this.running && isRefusal(err)) this.apply(this.table.unreachable(id, performance.now()))
      return false
    } finally {
      this.dialing.delete(id)
    }
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    // the dialling side starts the push-pull exchange
    if (evt.detail.direction === 'outbound') void this.sync.exchange(evt.detail)
  }

  /** The last connection closed: redial once; a refusal means nobody listens there any more. */
  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    const member = this.table.get(id, performance.now())
    if (!this.running || member == null || (member.state !== 'alive' && member.state !== 'suspect')) return
    void this.dialOnce(id, member.addresses)
  }

  /**
   * Redials a member whose last connection closed. Refused: the process is
   * gone, fail it now. Anything else (a timeout: paused or partitioned; a
   * handshake broken by a dying socket) is left to the failure detector, and
   * to mesh repair, whose dials also fail a member on refusal.
   */
  private async dialOnce (id: string, addresses: string[]): Promise<void> {
    const peer = peerIdFromString(id)
    try {
      await this.rememberAddresses(peer, addresses)
      await this.libp2p.dial(peer, { signal: AbortSignal.timeout(REDIAL_TIMEOUT_MS) })
    } catch (err) {
      if (!this.running) return
      if (isRefusal(err)) this.apply(this.table.unreachable(id, performance.now()))
      else this.log.debug({ member: id, err }, 'redial after disconnect failed')
    }
  }
}

function isRefusal (err: unknown): boolean {
  const seen = new Set<unknown>()
  const walk = (e: unknown): boolean => {
    if (e == null || typeof e !== 'object' || seen.has(e)) return false
    seen.add(e)
    const { code, message, cause, errors } = e as { code?: string, message?: string, cause?: unknown, errors?: unknown[] }
    if (code === 'ECONNREFUSED' || /ECONNREFUSED|ECONNRESET/.test(message ?? '')) return true
    return walk(cause) || (Array.isArray(errors) && errors.some(walk))
  }
  return walk(err)
}
