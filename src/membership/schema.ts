import * as v from 'valibot'
import { MAX_MEMBERS_LIMIT } from './constants.ts'
import { addresses, cpuCapacity, memoryCapacityMb, peerId as id, stageName, strategy, weight, workerCount } from '../checks/values.ts'

const nonNegative = v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1e12))
const incarnation = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER))
/** Bounds a heartbeat's size: an agent's load names at most this many stages. */
export const MAX_LOAD_STAGES = 64

export const memberStateSchema = v.picklist(['alive', 'suspect', 'failed', 'left'])
export const roleSchema = v.picklist(['member', 'agent'])

/** What a member says about itself (heartbeat) or what one member knows of another (sync). */
export const memberEntrySchema = v.object({
  id,
  addresses,
  state: memberStateSchema,
  incarnation,
  role: roleSchema,
  /** Fractional CPU slots are valid (`--cpu 1.5`): the same rule as the agent's own option. */
  capacity: v.object({ cpu: cpuCapacity, memoryMb: memoryCapacityMb }),
  /** cpu: machine CPU use 0..1; slotsUsed / memoryUsedMb: what this agent's workers reserved. */
  load: v.object({
    cpu: v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1)),
    memoryFreeMb: nonNegative,
    workers: workerCount,
    maxWorkers: workerCount,
    slotsUsed: nonNegative,
    memoryUsedMb: nonNegative,
    /** Workers running per stage name. */
    stages: v.pipe(v.record(stageName, workerCount), v.check(r => Object.keys(r).length <= MAX_LOAD_STAGES, `at most ${MAX_LOAD_STAGES} stages`))
  }),
  weight,
  strategy
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
  members: v.pipe(v.array(memberEntrySchema), v.maxLength(MAX_MEMBERS_LIMIT + 1))
})

export type MemberState = v.InferOutput<typeof memberStateSchema>
export type MemberRole = v.InferOutput<typeof roleSchema>
export type { Strategy } from '../checks/values.ts'
export type MemberEntry = v.InferOutput<typeof memberEntrySchema>
export type Heartbeat = v.InferOutput<typeof heartbeatSchema>
export type SyncMessage = v.InferOutput<typeof syncMessageSchema>
