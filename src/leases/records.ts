import * as v from 'valibot'
import type { Channel } from '../channels/channel.ts'
import { firedSchema, leaseSchema } from './types.ts'
import type { FiredRecord, Lease } from './types.ts'
import type { LeaseKeeper } from './lease.ts'

/** Channel keys of the lease records: one lease and one fenced record per job, one advert per candidate. */
export const LEASE_KEY = {
  lease: (id: string) => `l/${id}`,
  fired: (id: string) => `f/${id}`,
  candidate: (peer: string) => `n/${peer}`
} as const

/**
 * The leases of keyed jobs in a channel (schedules, deployments), read through
 * schemas: values come from any member, so a malformed one is skipped (as if
 * absent), never trusted. Candidates advertise themselves under `n/<peer id>`.
 */
export class LeaseRecords<Advert> {
  readonly channel: Channel
  private readonly advertSchema: v.GenericSchema<unknown, Advert>

  constructor (channel: Channel, advertSchema: v.GenericSchema<unknown, Advert>) {
    this.channel = channel
    this.advertSchema = advertSchema
  }

  lease (id: string): Lease | undefined {
    const parsed = v.safeParse(leaseSchema, this.channel.get(LEASE_KEY.lease(id)))
    return parsed.success ? parsed.output : undefined
  }

  writeLease (id: string, lease: Lease): void {
    this.channel.set(LEASE_KEY.lease(id), lease)
  }

  fired (id: string): FiredRecord | undefined {
    const parsed = v.safeParse(firedSchema, this.channel.get(LEASE_KEY.fired(id)))
    return parsed.success ? parsed.output : undefined
  }

  writeFired (id: string, record: FiredRecord): void {
    this.channel.set(LEASE_KEY.fired(id), record)
  }

  /** Deletes a job's lease and fired record (after the job itself went). */
  forget (id: string): void {
    this.channel.delete(LEASE_KEY.lease(id))
    this.channel.delete(LEASE_KEY.fired(id))
  }

  advertise (peer: string, advert: Advert): void {
    this.channel.set(LEASE_KEY.candidate(peer), advert)
  }

  withdraw (peer: string): void {
    this.channel.delete(LEASE_KEY.candidate(peer))
  }

  /**
   * The records under `prefix` that pass `schema` and sit under their own key (`keyOf`: a value copied
   * to another key is skipped), sorted by `idOf`: the owner's listing (deployments, schedules).
   */
  protected records<T> (prefix: string, schema: v.GenericSchema<unknown, T>, keyOf: (record: T) => string, idOf: (record: T) => string): T[] {
    const out: T[] = []
    for (const [key, value] of this.channel.entries()) {
      if (!key.startsWith(prefix)) continue
      const parsed = v.safeParse(schema, value)
      if (parsed.success && key === keyOf(parsed.output)) out.push(parsed.output)
    }
    return out.sort((a, b) => idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0)
  }

  /** The candidates that advertise themselves, with their adverts. */
  candidates (): Map<string, Advert> {
    const out = new Map<string, Advert>()
    for (const [key, value] of this.channel.entries()) {
      if (!key.startsWith('n/')) continue
      const parsed = v.safeParse(this.advertSchema, value)
      if (parsed.success) out.set(key.slice(2), parsed.output)
    }
    return out
  }
}

/**
 * Hands the leases `keepers` hold over at once (their `until` set to now), for a
 * holder that stops: the next holder need not wait them out.
 */
export function releaseHeld (records: Pick<LeaseRecords<unknown>, 'lease' | 'writeLease'>, keepers: Map<string, LeaseKeeper>, self: string, now: number): void {
  for (const [id, keeper] of keepers) {
    const lease = records.lease(id)
    if (keeper.phase === 'holding' && lease?.holder === self) {
      try { records.writeLease(id, { ...lease, until: Math.min(lease.until, now) }) } catch {}
    }
  }
}
