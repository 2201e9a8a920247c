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
const BEAT_BYTES = 72

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
 * (gossip if due, beat to its watchers, watch the members it watches),
 * heartbeats from gossip, beats from the watched — with the simulated clock and network instead of timers
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
  /** The nodes that watch this one (they opened a beat line to it), each with the line's own beat timer's token. */
  private readonly watchers = new Map<number, object>()
  /** The members this node watches (its lines to them). */
  private watching = new Set<number>()

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
    this.watch()
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
   * MemberBeats, watcher's side: a line to each member watched (opening one costs nothing here), and
   * none to those no longer watched. A line to a crashed host stays until the watcher stops watching it.
   */
  private watch (): void {
    const now = new Set(this.core.targets().map(indexOf))
    for (const target of this.watching) if (!now.has(target)) this.world.nodes[target]!.watchers.delete(this.index)
    for (const target of now) if (!this.watching.has(target)) this.world.nodes[target]!.subscribe(this.index)
    this.watching = now
  }

  /**
   * MemberBeats, member's side: a line opened by `watcher` gets a beat at once and then one every
   * period from then on, on its own timer (so a member's watchers sample it at different phases);
   * the timer ends with the line. A beat that arrives on a line closed meanwhile is dropped.
   */
  private subscribe (watcher: number): void {
    const line = {}
    this.watchers.set(watcher, line)
    const { clock, net, nodes } = this.world
    const beat = (): void => {
      if (this.watchers.get(watcher) !== line) return
      const at = nodes[watcher]!
      // a crashed watcher's connection is gone, and with it the line
      if (!at.dead) {
        const incarnation = this.core.entry().incarnation
        net.send(this.index, watcher, 'beat', BEAT_BYTES, () => {
          if (at.watching.has(this.index)) at.apply(at.core.onAck(this.id, incarnation, clock.now))
        })
      }
      clock.after(this.config.heartbeatMs, () => { net.run(this.index, beat) })
    }
    net.run(this.index, beat)
  }
}

/** Simulated ids are `n<index>`. */
export function simId (index: number): string {
  return `n${index}`
}

function indexOf (id: string): number {
  return Number(id.slice(1))
}
