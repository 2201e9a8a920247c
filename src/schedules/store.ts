import * as v from 'valibot'
import type { Channel } from '../channels/channel.ts'
import { KEY, firedSchema, leaseSchema, storedScheduleSchema } from './types.ts'
import type { FiredRecord, Lease, Schedule } from './types.ts'

/** What an API node advertises under `n/<peer id>`: the task names it can fire. */
export interface FirerAdvert {
  tasks: string[]
}
const advertSchema = v.object({ tasks: v.pipe(v.array(v.string()), v.maxLength(1024)) })

/**
 * The schedules channel, read through schemas: its values come from any
 * member, so a malformed one is skipped (as if absent), never trusted.
 */
export class ScheduleStore {
  readonly channel: Channel

  constructor (channel: Channel) {
    this.channel = channel
  }

  schedules (): Schedule[] {
    const out: Schedule[] = []
    for (const [key, value] of this.channel.entries()) {
      if (!key.startsWith('s/')) continue
      const parsed = v.safeParse(storedScheduleSchema, value)
      if (parsed.success && key === KEY.schedule(parsed.output.id)) out.push(parsed.output as Schedule)
    }
    return out.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
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

  /** Deletes a schedule's lease and fired record (after the schedule itself went). */
  forget (id: string): void {
    this.channel.delete(KEY.lease(id))
    this.channel.delete(KEY.fired(id))
  }

  lease (id: string): Lease | undefined {
    const parsed = v.safeParse(leaseSchema, this.channel.get(KEY.lease(id)))
    return parsed.success ? parsed.output : undefined
  }

  writeLease (id: string, lease: Lease): void {
    this.channel.set(KEY.lease(id), lease)
  }

  fired (id: string): FiredRecord | undefined {
    const parsed = v.safeParse(firedSchema, this.channel.get(KEY.fired(id)))
    return parsed.success ? parsed.output : undefined
  }

  writeFired (id: string, record: FiredRecord): void {
    this.channel.set(KEY.fired(id), record)
  }

  advertise (peer: string, advert: FirerAdvert): void {
    this.channel.set(KEY.firer(peer), advert)
  }

  withdraw (peer: string): void {
    this.channel.delete(KEY.firer(peer))
  }

  /** API nodes that advertise themselves, with their task names. */
  firers (): Map<string, FirerAdvert> {
    const out = new Map<string, FirerAdvert>()
    for (const [key, value] of this.channel.entries()) {
      if (!key.startsWith('n/')) continue
      const parsed = v.safeParse(advertSchema, value)
      if (parsed.success) out.set(key.slice(2), parsed.output)
    }
    return out
  }
}
