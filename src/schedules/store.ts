import * as v from 'valibot'
import type { Channel } from '../channels/channel.ts'
import { KEY, storedScheduleSchema } from './types.ts'
import type { Schedule } from './types.ts'
import { LeaseRecords } from '../leases/records.ts'

/**
 * What an API node advertises under `n/<peer id>`: the task names it can fire, and `at`, changed at every
 * refresh (its writer's clock; readers only watch that it changes). An advert without `at` is an older
 * node's, never refreshed and never aged out.
 */
export interface FirerAdvert {
  tasks: string[]
  at?: number
}
const advertSchema = v.object({ tasks: v.pipe(v.array(v.string()), v.maxLength(1024)), at: v.optional(v.pipe(v.number(), v.finite())) })

/**
 * The schedules channel, read through schemas: its values come from any
 * member, so a malformed one is skipped (as if absent), never trusted. The
 * leases, fired records and firer adverts are LeaseRecords'.
 */
export class ScheduleStore extends LeaseRecords<FirerAdvert> {
  constructor (channel: Channel) {
    super(channel, advertSchema)
  }

  schedules (): Schedule[] {
    return this.records('s/', storedScheduleSchema, s => KEY.schedule(s.id), s => s.id) as Schedule[]
  }

  schedule (id: string): Schedule | undefined {
    const parsed = v.safeParse(storedScheduleSchema, this.channel.get(KEY.schedule(id)))
    return parsed.success && parsed.output.id === id ? parsed.output as Schedule : undefined
  }

  put (schedule: Schedule): void {
    this.channel.set(KEY.schedule(schedule.id), schedule)
  }

  /** Deletes the schedule and its lease and fired record; true if it was there. */
  remove (id: string): boolean {
    const had = this.channel.delete(KEY.schedule(id))
    this.forget(id)
    return had
  }

  /** API nodes that advertise themselves, with their task names. */
  firers (): Map<string, FirerAdvert> {
    return this.candidates()
  }
}
