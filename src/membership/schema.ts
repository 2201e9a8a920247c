import * as v from 'valibot'

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(128))
const count = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000))
const nonNegative = v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1e12))
const incarnation = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER))

export const memberStateSchema = v.picklist(['alive', 'suspect', 'failed', 'left'])
export const roleSchema = v.picklist(['member', 'agent'])
export const strategySchema = v.picklist(['horizontal', 'vertical'])

/** What a member says about itself (heartbeat) or what one member knows of another (sync). */
export const memberEntrySchema = v.object({
  id,
  addresses: v.pipe(v.array(v.pipe(v.string(), v.maxLength(256))), v.maxLength(32)),
  state: memberStateSchema,
  incarnation,
  role: roleSchema,
  capacity: v.object({ cpu: count, memoryMb: nonNegative }),
  /** cpu: machine CPU use 0..1; slotsUsed / memoryUsedMb: what this agent's workers reserved. */
  load: v.object({
    cpu: v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1)),
    memoryFreeMb: nonNegative,
    workers: count,
    maxWorkers: count,
    slotsUsed: nonNegative,
    memoryUsedMb: nonNegative,
    /** Workers running per stage name. */
    stages: v.pipe(v.record(v.pipe(v.string(), v.maxLength(128)), count), v.check(r => Object.keys(r).length <= 64, 'at most 64 stages'))
  }),
  weight: v.pipe(v.number(), v.finite(), v.minValue(-1e6), v.maxValue(1e6)),
  strategy: strategySchema
})

const claim = { id, incarnation }

export const heartbeatSchema = v.object({
  v: v.literal(1),
  seq: v.pipe(v.number(), v.integer(), v.minValue(0)),
  member: memberEntrySchema,
  /** Members the sender suspects or holds failed: confirmations for others, a call to refute for the member itself. */
  suspects: v.pipe(v.array(v.object({ ...claim, state: v.picklist(['suspect', 'failed']) })), v.maxLength(256)),
  /** Live reports: suspected members the sender still hears, and how long ago. */
  hears: v.pipe(v.array(v.object({ ...claim, ageMs: nonNegative })), v.maxLength(256))
})

export const syncMessageSchema = v.object({
  v: v.literal(1),
  members: v.pipe(v.array(memberEntrySchema), v.maxLength(10_000))
})

export type MemberState = v.InferOutput<typeof memberStateSchema>
export type MemberRole = v.InferOutput<typeof roleSchema>
export type Strategy = v.InferOutput<typeof strategySchema>
export type MemberEntry = v.InferOutput<typeof memberEntrySchema>
export type Heartbeat = v.InferOutput<typeof heartbeatSchema>
export type SyncMessage = v.InferOutput<typeof syncMessageSchema>
