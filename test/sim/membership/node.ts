import { MembershipCore } from '../../../src/membership/core.ts'
import type { MemberTable } from '../../../src/membership/table.ts'
import type { MembershipConfig } from '../../../src/membership/config.ts'
import type { MemberEntry, Heartbeat } from '../../../src/membership/schema.ts'
import type { MemberEvent } from '../../../src/membership/member.ts'
import { entry } from '../../unit/membership/entry.ts'
import type { SimClock } from './clock.ts'
import type { Host, SimNetwork } from './network.ts'
import type { GossipModel } from './gossip.ts'

/** Wall-clock ms at the simulation's start: incarnations are wall-clock times. */
export const EPOCH = 1_800_000_000_000
const PING_BYTES = 48
const ACK_BYTES = 72

export interface SimWorld {
  clock: SimClock
  net: SimNetwork
  gossip: GossipModel
  nodes: SimNode[]
  random: () => number
  observe: (at: SimNode, events: MemberEvent[]) => void
}

/** A simulated member: an agent with 2 CPU slots, nothing running. */
export function simEntry (id: string, incarnation: number): MemberEntry {
  return entry(id, { incarnation, role: 'agent', addresses: [], capacity: { cpu: 2, memoryMb: 4096 }, load: { cpu: 0.05, memoryFreeMb: 2048, maxWorkers: 2 } })
}

/**
 * One simulated `grid node`: the real MembershipCore, driven the way
 * Membership drives it — a tick every `tickMs`, a period every heartbeat
 * (gossip if due, ping the members it watches), heartbeats from gossip,
 * acks from pings — with the simulated clock and network instead of timers
 * and libp2p. A stopped host runs its overdue timers once when resumed, as
 * a SIGCONTed process does.
 */
export class SimNode implements Host {
  readonly index: number
  readonly id: string
  dead = false
  stoppedUntil = 0
  side = 0
  readonly core: MembershipCore
  private readonly world: SimWorld
  private readonly config: MembershipConfig
  /** Per watched member, when the pings still waiting for an answer went out. */
  private readonly pinging = new Map<number, number[]>()

  /** `converged`: the grid's table this node starts from (forked: rows shared until changed). */
  constructor (index: number, id: string, world: SimWorld, config: MembershipConfig, converged?: MemberTable) {
    this.index = index
    this.id = id
    this.world = world
    this.config = config
    this.core = new MembershipCore(config, simEntry(id, EPOCH + world.clock.now), world.clock.now, {
      reject: () => {},
      certify: entry => entry,
      wallNow: () => EPOCH + world.clock.now,
      random: world.random
    }, converged)
  }

  start (): void {
    const { random } = this.world
    this.every(this.core.tickMs, random() * this.core.tickMs, () => { this.tick() })
    this.every(this.config.heartbeatMs, random() * this.config.heartbeatMs, () => { this.period() })
    this.world.gossip.start(this.index)
  }

  /** Changes this node's own entry; gossiped at the next period (as `updateSelf` would, at once). */
  change (entry: Partial<MemberEntry>): void {
    this.core.setEntry({ ...this.core.entry(), ...entry })
    this.publish()
  }

  private every (ms: number, firstInMs: number, work: () => void): void {
    const { clock, net } = this.world
    const fire = (): void => {
      net.run(this.index, () => {
        work()
        clock.after(ms, fire)
      })
    }
    clock.after(firstInMs, fire)
  }

  private tick (): void {
    this.apply(this.core.tick(this.world.clock.now).events)
  }

  /** As Membership.apply: events out, and news gossiped at once. */
  private apply (events: MemberEvent[]): void {
    if (events.length === 0) return
    this.world.observe(this, events)
    if (this.core.publishDue(this.world.clock.now)) this.publish()
  }

  private period (): void {
    if (this.core.publishDue(this.world.clock.now)) this.publish()
    for (const id of this.core.targets()) this.ping(indexOf(id))
  }

  private publish (): void {
    const hb = this.core.heartbeat(this.world.clock.now, [])
    const bytes = JSON.stringify(hb).length
    this.world.gossip.publish(this.index, bytes, to => { this.world.nodes[to]!.onHeartbeat(hb, this.id) })
  }

  private onHeartbeat (hb: Heartbeat, from: string): void {
    const { events, publish } = this.core.onHeartbeat(hb, from, this.world.clock.now)
    if (publish) this.publish()
    this.apply(events)
  }

  /**
   * MemberPings: up to 3 pings per member waiting at once, an answer counted within suspectAfterMs.
   * A ping stops waiting when answered or when suspectAfterMs has passed (checked here, not by a
   * timer per ping: a timer each would be a tenth of the simulator's events).
   */
  private ping (target: number): void {
    const { clock, net, nodes } = this.world
    const sentAt = clock.now
    const waiting = (this.pinging.get(target) ?? []).filter(at => sentAt - at < this.config.suspectAfterMs)
    this.pinging.set(target, waiting)
    if (waiting.length >= 3) return
    waiting.push(sentAt)
    net.send(this.index, target, 'ping', PING_BYTES, () => {
      const incarnation = nodes[target]!.core.entry().incarnation
      net.send(target, this.index, 'ack', ACK_BYTES, () => {
        if (clock.now - sentAt > this.config.suspectAfterMs) return
        const still = this.pinging.get(target)
        const at = still?.indexOf(sentAt) ?? -1
        if (at >= 0) still!.splice(at, 1)
        this.apply(this.core.onAck(nodes[target]!.id, incarnation, clock.now))
      })
    })
  }
}

/** Simulated ids are `n<index>`. */
export function simId (index: number): string {
  return `n${index}`
}

function indexOf (id: string): number {
  return Number(id.slice(1))
}
