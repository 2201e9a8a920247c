import * as v from 'valibot'

/** The channel every schedule, lease, fired record and API-node advert lives in (grid-wide, outlives any one node). */
export const SCHEDULES_CHANNEL = 'gridd.schedules'

/** Channel key prefix of a schedule (its lease, last fired tick and the API nodes' adverts are LEASE_KEY's). */
export const KEY = {
  schedule: (id: string) => `s/${id}`
} as const

export const OVERLAPS = ['skip', 'buffer-one', 'allow'] as const
export type Overlap = typeof OVERLAPS[number]

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** A schedule's input travels in every channel snapshot: kept small. */
export const MAX_INPUT_BYTES = 16 * 1024
/** Shortest `everyMs`: a tick needs a lease check, a channel write and a submission. */
export const MIN_EVERY_MS = 1000

/** What a caller gives to create (or replace) a schedule: exactly one of `cron` and `everyMs`. */
export const scheduleSpecSchema = v.pipe(
  v.strictObject({
    id: v.pipe(v.string(), v.regex(ID, 'id must be 1-64 letters, digits, ".", "_" or "-"')),
    /** Five fields, or six with seconds first (croner's syntax). */
    cron: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
    everyMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(MIN_EVERY_MS), v.maxValue(366 * 24 * 3600_000))),
    /** IANA zone for `cron`; default UTC. */
    timezone: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
    /** A task name registered on the API nodes (`grid node --task name=module`). */
    task: v.pipe(v.string(), v.regex(TASK_NAME, 'task must be a registered task name')),
    input: v.optional(v.unknown()),
    overlap: v.optional(v.picklist(OVERLAPS)),
    catchup: v.optional(v.boolean()),
    paused: v.optional(v.boolean()),
    /** Give the task `{ input, scheduledAt, schedule }` (an idempotency key per tick) instead of `input`. */
    envelope: v.optional(v.boolean())
  }),
  v.check(s => (s.cron == null) !== (s.everyMs == null), 'give exactly one of cron and everyMs')
)
export type ScheduleSpec = v.InferOutput<typeof scheduleSpecSchema>

/** A schedule as stored in the channel. */
export interface Schedule {
  id: string
  cron?: string
  everyMs?: number
  timezone: string
  task: string
  input: unknown
  overlap: Overlap
  catchup: boolean
  paused: boolean
  envelope: boolean
  /** Who made it (token subject, or `peer:<id>` through the CLI): pause, resume and delete are its own or an admin's. */
  owner: string
  createdAt: number
  /** No tick at or before this fires: set on create and on resume (resuming does not backfill the pause). */
  since: number
}

export type { Lease, FiredRecord } from '../leases/types.ts'
export { leaseSchema, firedSchema } from '../leases/types.ts'

const finite = v.pipe(v.number(), v.finite())
export const storedScheduleSchema = v.object({
  id: v.pipe(v.string(), v.regex(ID)),
  cron: v.optional(v.string()),
  everyMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(MIN_EVERY_MS))),
  timezone: v.string(),
  task: v.pipe(v.string(), v.regex(TASK_NAME)),
  input: v.unknown(),
  overlap: v.picklist(OVERLAPS),
  catchup: v.boolean(),
  paused: v.boolean(),
  envelope: v.boolean(),
  owner: v.string(),
  createdAt: finite,
  since: finite
})
