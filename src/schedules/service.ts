import type { Channel } from '../channels/channel.ts'
import type { Logger } from '../logger.ts'
import type { Member } from '../membership/member.ts'
import type { AddonTasks } from '../addons/host.ts'
import { Firer } from './firer.ts'
import { ADVERT_REFRESH_MS } from '../leases/fresh-adverts.ts'
import type { FirerInit } from './firer.ts'
import { ScheduleStore } from './store.ts'
import { makeSchedule, nextTick } from './spec.ts'
import type { Schedule } from './types.ts'
import { ForbiddenError, NotFoundError, NotSyncedError, ScheduleLimitError } from '../errors.ts'

export interface ScheduleServiceComponents {
  self: string
  channel: Channel
  tasks: Pick<AddonTasks, 'submit' | 'registeredModule' | 'registeredNames'>
  members: () => Member[]
  /** Whether this node holds a CRL that revokes its own certificate (it fires no schedule). */
  selfRevoked?: () => boolean
  log: Logger
}

/** A schedule as the API and the CLI show it: the stored fields, its next run, and who fires it. */
export interface ScheduleView extends Schedule {
  nextRunAt?: number
  firer?: string
  lastTickAt?: number
}

/** Who asks: a subject, and whether it may touch schedules it did not make. */
export interface ScheduleCaller {
  subject: string
  admin: boolean
}

/**
 * Schedules the grid holds, in all and of one maker: every API node looks at each of them every step, and a
 * client certificate could otherwise add them until the firers' steps are so slow that no lease holds.
 */
export const MAX_SCHEDULES = 4096
export const MAX_SCHEDULES_PER_MAKER = 512

/** How often the advert is checked against the names registered now. */
const READVERTISE_MS = 1000

/**
 * The schedules of the grid as one API node serves them: create, list, pause,
 * resume and delete (stored in the schedules channel), and this node's firer.
 */
export class ScheduleService {
  readonly store: ScheduleStore
  private readonly c: ScheduleServiceComponents
  private readvertise?: NodeJS.Timeout
  /** The names last advertised, joined, and when. */
  private advertised?: string
  private advertisedAt = 0
  private readonly firer: Firer

  constructor (components: ScheduleServiceComponents, init: FirerInit = {}) {
    this.c = components
    this.store = new ScheduleStore(components.channel)
    this.firer = new Firer({ self: components.self, store: this.store, tasks: components.tasks, members: components.members, selfRevoked: components.selfRevoked, log: components.log }, init)
  }

  /** Advertises this node as a firer of its registered task names and starts firing. */
  start (): void {
    this.advertise()
    // names registered after the start (an embedder's node.tasks.register) join the advert within a second:
    // a schedule of such a name would otherwise have no firer
    this.readvertise = setInterval(() => { this.advertise() }, READVERTISE_MS)
    this.readvertise.unref()
    this.firer.start()
  }

  stop (): void {
    clearInterval(this.readvertise)
    this.firer.stop()
    try { this.store.withdraw(this.c.self) } catch {}
  }

  /**
   * Writes the advert when the registered names differ from those last advertised, and every ADVERT_REFRESH_MS
   * anyway: a node restarted without the API never withdraws the advert it left, and the firers age it out
   * once it stops changing. A write refused (an advert over the channel's value size, a full channel) is
   * logged once per set of names, never thrown from the timer.
   */
  private advertise (): void {
    const tasks = this.c.tasks.registeredNames()
    const key = tasks.join('\n')
    const now = Date.now()
    if (key === this.advertised && now - this.advertisedAt < ADVERT_REFRESH_MS) return
    const changed = key !== this.advertised
    this.advertised = key
    this.advertisedAt = now
    try {
      this.store.advertise(this.c.self, { tasks, at: now })
    } catch (err) {
      if (changed) this.c.log.warn({ err, tasks: tasks.length }, 'could not advertise this node as a schedule firer of its task names')
    }
  }

  /** Creates or replaces schedule `spec.id` (replacing another's needs admin). The task must be registered on this node. */
  create (spec: unknown, caller: ScheduleCaller): ScheduleView {
    const schedule = makeSchedule(spec, caller.subject, Date.now())
    if (this.c.tasks.registeredModule(schedule.task) == null) throw new NotFoundError(`no task registered as ${JSON.stringify(schedule.task)} on this node (grid node --task ${schedule.task}=<module>)`)
    const existing = this.store.schedule(schedule.id)
    // not found on a view that has not synced is no proof the id is free: another maker's would be replaced unchecked
    if (existing == null && !this.c.channel.isSynced) throw new NotSyncedError(this.c.channel.name, `create schedule ${JSON.stringify(schedule.id)}`)
    if (existing != null) this.checkMayChange(existing, caller)
    else this.checkRoom(schedule.owner)
    this.store.put(schedule)
    return this.view(schedule)
  }

  list (): ScheduleView[] {
    const elect = this.firer.electorate()
    return this.store.schedules().map(s => this.view(s, elect))
  }

  get (id: string): ScheduleView {
    return this.view(this.found(id))
  }

  remove (id: string, caller: ScheduleCaller): ScheduleView {
    const schedule = this.found(id)
    this.checkMayChange(schedule, caller)
    // as it stood: its last tick tells what may still be starting
    const { nextRunAt: _next, ...last } = this.view(schedule)
    this.store.remove(id)
    return last
  }

  /** Pauses (no tick fires) or resumes (ticks from now on: a resume does not backfill the pause). */
  setPaused (id: string, paused: boolean, caller: ScheduleCaller): ScheduleView {
    const schedule = this.found(id)
    this.checkMayChange(schedule, caller)
    if (schedule.paused === paused) return this.view(schedule)
    const changed: Schedule = { ...schedule, paused, ...(paused ? {} : { since: Date.now() }) }
    this.store.put(changed)
    return this.view(changed)
  }

  view (schedule: Schedule, elect?: ReturnType<Firer['electorate']>): ScheduleView {
    const firing = this.firer.view(schedule, elect)
    const next = schedule.paused ? undefined : nextTick(schedule, Math.max(Date.now(), schedule.since))
    return { ...schedule, ...(next != null ? { nextRunAt: next } : {}), ...(firing.firer != null ? { firer: firing.firer } : {}), ...(firing.lastTick != null ? { lastTickAt: firing.lastTick } : {}) }
  }

  private found (id: string): Schedule {
    const schedule = this.store.schedule(id)
    if (schedule == null) throw new NotFoundError(`no schedule ${JSON.stringify(id)}`)
    return schedule
  }

  /** Room for one more schedule of `owner` (a replacement needs none). */
  private checkRoom (owner: string): void {
    const schedules = this.store.schedules()
    if (schedules.length >= MAX_SCHEDULES) throw new ScheduleLimitError(`the grid already holds ${MAX_SCHEDULES} schedules: delete some first`)
    const own = schedules.filter(s => s.owner === owner).length
    if (own >= MAX_SCHEDULES_PER_MAKER) throw new ScheduleLimitError(`${owner} already made ${MAX_SCHEDULES_PER_MAKER} schedules: delete some first`)
  }

  private checkMayChange (schedule: Schedule, caller: ScheduleCaller): void {
    if (caller.admin || schedule.owner === caller.subject) return
    throw new ForbiddenError(`schedule ${schedule.id} was made by ${schedule.owner}: only its maker or an admin may change it`)
  }
}
