import type { MemberEntry } from './schema.ts'
import { significantChange } from './member.ts'

export interface PublishPolicyInit {
  heartbeatMs: number
  /** The slowest refresh of an unchanged entry, per member in the grid (ms): the grid-wide rate stays constant. */
  refreshPerMemberMs: number
  /** The fastest refresh, whatever the grid's size. */
  minRefreshMs: number
  /** Uniform in [0, 1); default Math.random. */
  random?: () => number
}

/** A CPU figure this much off the last one gossiped is news; smaller drift waits for the refresh. */
const CPU_DRIFT = 0.2
/** A settled failure claim goes out again every this many heartbeats while it is listed. */
const SETTLED_REPEAT = 5
/** Free memory this fraction off the last figure gossiped is news. */
const MEMORY_DRIFT = 0.2
/**
 * A new incarnation (a start, a restart, a refutation) goes out on this many heartbeats in a row:
 * gossipsub forms its mesh on its own heartbeat, so the first message of a node that just
 * connected may reach no one, and without a repeat the grid would wait for the refresh.
 */
const ANNOUNCEMENTS = 3

/**
 * When this node gossips its heartbeat. Liveness travels by the watchers'
 * pings (MonitorRing), so the heartbeat is news, not a pulse: it goes out
 * when the entry changes in a way placement cares about, every heartbeat
 * while this node has claims to make (suspicions, live reports, a
 * refutation), and otherwise at a refresh interval that grows with the grid
 * (`members × refreshPerMemberMs`), so the grid as a whole sends a constant
 * number of heartbeats a second, not N per second.
 */
export class PublishPolicy {
  private readonly init: PublishPolicyInit
  private last?: MemberEntry
  private lastAt = -Infinity
  private lastClaims = ''
  /** Heartbeats published with the current incarnation. */
  private announced = 0
  private readonly random: () => number
  /**
   * This refresh's share of the nominal interval, drawn anew at each publish from [0.5, 1.5): nodes
   * started together would otherwise refresh together, a burst of N heartbeats every interval where
   * a steady trickle was meant (bench:scale's idle window at N = 20 caught one: 5.8 kB/s sent per node).
   */
  private jitter = 1

  constructor (init: PublishPolicyInit) {
    this.init = init
    this.random = init.random ?? (() => Math.random())
  }

  refreshMs (members: number): number {
    return Math.max(this.init.minRefreshMs, members * this.init.refreshPerMemberMs)
  }

  /**
   * Whether to publish now; `claims` names the suspicion and live-report lists (ids and states),
   * `active` says whether any is a standing suspicion or live report (an incident in progress).
   */
  due (self: MemberEntry, claims: string, active: boolean, members: number, now: number): boolean {
    const last = this.last
    if (last == null) return true
    if (claims !== this.lastClaims) return true
    if (self.incarnation !== last.incarnation) return true
    if (this.announced < ANNOUNCEMENTS && now - this.lastAt >= this.init.heartbeatMs * 0.9) return true
    // while an incident lasts its claims are repeated every heartbeat (suspicions time out, live
    // reports age); a failure already settled is repeated now and then for the ones that missed it
    if (active && now - this.lastAt >= this.init.heartbeatMs * 0.9) return true
    if (claims !== '' && now - this.lastAt >= this.init.heartbeatMs * SETTLED_REPEAT) return true
    if (significantChange(last, self) || last.state !== self.state) return true
    const sinceLast = now - this.lastAt
    const refreshMs = this.refreshMs(members) * this.jitter
    // machine figures drift all the time on a busy host: news at most twice a refresh, so a grid
    // of busy machines still sends a bounded number of heartbeats a second
    const drifted = Math.abs(last.load.cpu - self.load.cpu) >= CPU_DRIFT ||
      Math.abs(last.load.memoryFreeMb - self.load.memoryFreeMb) > MEMORY_DRIFT * Math.max(1, last.load.memoryFreeMb)
    if (drifted && sinceLast >= refreshMs / 2) return true
    return sinceLast >= refreshMs
  }

  published (self: MemberEntry, claims: string, now: number): void {
    this.announced = this.last?.incarnation === self.incarnation ? this.announced + 1 : 1
    this.jitter = 0.5 + this.random()
    this.last = self
    this.lastAt = now
    this.lastClaims = claims
  }
}
