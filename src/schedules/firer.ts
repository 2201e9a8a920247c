import type { Logger } from '../logger.ts'
import type { Member } from '../membership/member.ts'
import type { AddonTasks } from '../addons/host.ts'
import { electHolder } from '../leases/election.ts'
import type { LeaseKeeper, LeaseTimings } from '../leases/lease.ts'
import { KeyedLeases, leaseTimings, stepLoop } from '../leases/jobs.ts'
import { releaseHeld } from '../leases/records.ts'
import { OverlapGate } from './overlap.ts'
import { FreshAdverts, aliveMembers, withdrawAbandoned } from '../leases/fresh-adverts.ts'
import { ticksBetween } from './spec.ts'
import type { FirerAdvert, ScheduleStore } from './store.ts'
import type { Lease, Schedule } from './types.ts'

/** With no schedule, the loop looks again this often (and at once when the channel changes). */
const IDLE_STEP_MS = 1000

export interface FirerInit extends Partial<LeaseTimings> {
  /** How often schedules are looked at. Default 100 ms. */
  stepMs?: number
  /** A tick fired this late is still on time (a failover's delay); older ones are missed unless `catchup`. Default 5 s. */
  misfireGraceMs?: number
  /** `catchup` fires missed ticks of at most this far back. Default 1 h. */
  catchupWindowMs?: number
  /** …and at most this many of them (the latest). Default 10. */
  maxCatchup?: number
  now?: () => number
}

export interface FirerComponents {
  self: string
  store: ScheduleStore
  tasks: Pick<AddonTasks, 'submit' | 'registeredModule'>
  members: () => Member[]
  /** Whether this node holds a CRL that revokes its own certificate: then it fires no schedule. */
  selfRevoked?: () => boolean
  log: Logger
}

/** What this node knows of a schedule's firing, for the API and the dashboard. */
export interface FiringView {
  firer?: string
  lease?: Lease
  lastTick?: number
}

/**
 * Fires the schedules of the grid from one API node. Every step, for each
 * schedule, it elects the firer among the alive API nodes that can run its
 * task (rendezvous hashing), keeps this node's side of the lease, and, while
 * holding it, takes the due ticks that are its own (after the lease's `from`
 * and the last fired tick): it writes the fired record, then submits the task.
 */
export class Firer {
  private readonly c: FirerComponents
  private readonly leases: KeyedLeases
  private readonly stepMs: number
  private readonly misfireGraceMs: number
  private readonly catchupWindowMs: number
  private readonly maxCatchup: number
  private readonly now: () => number
  private readonly gates = new Map<string, OverlapGate>()
  private readonly adverts = new FreshAdverts<FirerAdvert>()
  private stopLoop: () => void = () => {}

  constructor (components: FirerComponents, init: FirerInit = {}) {
    this.c = components
    this.leases = new KeyedLeases(components.self, leaseTimings(init), components.log, 'schedule')
    this.stepMs = init.stepMs ?? 100
    this.misfireGraceMs = init.misfireGraceMs ?? 5000
    this.catchupWindowMs = init.catchupWindowMs ?? 3600_000
    this.maxCatchup = init.maxCatchup ?? 10
    this.now = init.now ?? Date.now
  }

  start (): void {
    this.stopLoop = stepLoop(this.stepMs, () => this.step(), this.c.log, { idleMs: IDLE_STEP_MS, wakeOn: this.c.store.channel })
  }

  stop (): void {
    this.stopLoop()
    // a last pass as a holder handing over: the ticks that fell due since the last step are fired now (the
    // successor starts after the `until` we release with), and the leases are handed over at once rather
    // than waited out; releaseHeld catches a lease the pass could not release (a step that threw)
    this.pass(this.now(), true)
    releaseHeld(this.c.store, this.leases.keepers, this.c.self, this.now())
  }

  /** Who fires `schedule` as this node sees it; `elect` from `electorate()` when viewing many. */
  view (schedule: Schedule, elect: (schedule: Schedule) => string | undefined = this.electorate()): FiringView {
    return { firer: elect(schedule), lease: this.c.store.lease(schedule.id), lastTick: this.c.store.fired(schedule.id)?.tick }
  }

  /** One pass over every schedule (the loop calls it; tests call it with a fake clock); false when there is none. */
  step (): boolean {
    return this.pass(this.now(), false)
  }

  private pass (now: number, handOver: boolean): boolean {
    const schedules = this.c.store.schedules()
    for (const id of this.leases.prune(new Set(schedules.map(s => s.id)))) {
      this.gates.delete(id)
      // a renewal crossing the delete would leave our lease behind: remove it again
      if (this.c.store.lease(id)?.holder === this.c.self) this.c.store.forget(id)
    }
    const byId = new Map(schedules.map(s => [s.id, s]))
    // the candidates once per pass, not once per schedule: a pass must stay cheap with thousands of schedules
    const elect = this.electorate(now)
    withdrawAbandoned(this.adverts, this.c.store, this.c.self, this.c.members, now)
    this.leases.each([...byId.keys()], id => { this.stepSchedule(byId.get(id)!, now, !handOver && elect(byId.get(id)!) === this.c.self) })
    return byId.size > 0
  }

  private stepSchedule (schedule: Schedule, now: number, electedHere: boolean): void {
    const keeper = this.leases.keeper(schedule.id)
    const elected = !schedule.paused && electedHere
    const fired = this.c.store.fired(schedule.id)
    const decision = keeper.step(now, elected, this.c.store.lease(schedule.id), fired)
    if (decision.change != null) {
      const lease = decision.write ?? decision.holding
      this.c.log.info({ schedule: schedule.id, phase: keeper.phase, from: lease?.from, until: lease?.until }, `schedule lease: ${decision.change}`)
    }
    if (decision.write != null) this.c.store.writeLease(schedule.id, decision.write)
    // a holder handing over still fires what fell due in its lease: the successor starts after its `until`
    const lease = decision.holding ?? decision.releasing
    if (lease == null || schedule.paused) return
    let lower = Math.max(lease.from, fired?.tick ?? 0, schedule.since)
    lower = Math.max(lower, now - (schedule.catchup ? this.catchupWindowMs : this.misfireGraceMs))
    const ticks = ticksBetween(schedule, lower, now, this.maxCatchup)
    if (ticks.length === 0) return
    // the record first: whoever reads it next (a successor) never takes these ticks again
    this.c.store.writeFired(schedule.id, { tick: ticks[ticks.length - 1]!, token: lease.token, holder: this.c.self })
    for (const tick of ticks) this.fire(schedule, tick, keeper)
  }

  private fire (schedule: Schedule, tick: number, keeper: LeaseKeeper): void {
    let gate = this.gates.get(schedule.id)
    if (gate == null) {
      gate = new OverlapGate()
      this.gates.set(schedule.id, gate)
    }
    const admitted = gate.admit(schedule.overlap, tick)
    if (admitted !== 'start') {
      this.c.log.info({ schedule: schedule.id, tick, overlap: schedule.overlap }, admitted === 'buffer' ? 'schedule tick kept until the running one ends' : 'schedule tick skipped: the previous run still goes on')
      return
    }
    const input = schedule.envelope ? { input: schedule.input, scheduledAt: tick, schedule: schedule.id } : schedule.input
    let task
    try {
      task = this.c.tasks.submit(schedule.task, input, {})
    } catch (err) {
      // refused at the call (its registered module gone from disk): this tick is lost, the schedule goes on
      this.c.log.warn({ err, schedule: schedule.id, tick }, 'schedule tick not run: its task was refused')
      return
    }
    this.c.log.info({ schedule: schedule.id, tick, task: task.id }, 'schedule fired')
    gate.started(task, (buffered) => {
      // a kept tick starts only while this node still holds the lease it was taken under
      const lease = this.c.store.lease(schedule.id)
      const current = this.c.store.schedule(schedule.id)
      if (current == null || current.paused || keeper.phase !== 'holding' || lease?.holder !== this.c.self || this.now() >= lease.until) {
        this.c.log.info({ schedule: schedule.id, tick: buffered }, 'kept schedule tick dropped: the lease or the schedule is gone')
        return
      }
      this.fire(current, buffered, keeper)
    })
  }

  /**
   * Who fires a schedule, as this node sees the grid now: the alive API nodes that can run its task and still
   * refresh their advert, and of those the one rendezvous hashing picks. Read once, asked per schedule.
   */
  electorate (now: number = this.now()): (schedule: Schedule) => string | undefined {
    const byTask = new Map<string, string[]>()
    for (const [peer, advert] of this.adverts.candidates(this.c.store.firers(), now, aliveMembers(this.c.self, this.c.members(), this.c.store.channel, this.c.selfRevoked))) {
      for (const task of new Set(advert.tasks)) {
        const peers = byTask.get(task)
        if (peers == null) byTask.set(task, [peer])
        else peers.push(peer)
      }
    }
    return schedule => electHolder(schedule.id, byTask.get(schedule.task) ?? [])
  }
}
