import { z } from 'zod'

const id = z.string().min(1).max(128)
const count = z.number().int().min(0).max(1_000_000)
const nonNegative = z.number().finite().min(0).max(1e12)

export const memberStateSchema = z.enum(['alive', 'suspect', 'failed', 'left'])
export const roleSchema = z.enum(['member', 'agent'])
export const strategySchema = z.enum(['horizontal', 'vertical'])

/** What a member says about itself (heartbeat) or what one member knows of another (sync). */
export const memberEntrySchema = z.object({
  id,
  addresses: z.array(z.string().max(256)).max(32),
  state: memberStateSchema,
  incarnation: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  role: roleSchema,
  capacity: z.object({ cpu: count, memoryMb: nonNegative }),
  /** cpu: machine CPU use 0..1; slotsUsed / memoryUsedMb: what this agent's workers reserved. */
  load: z.object({
    cpu: z.number().finite().min(0).max(1),
    memoryFreeMb: nonNegative,
    workers: count,
    maxWorkers: count,
    slotsUsed: nonNegative,
    memoryUsedMb: nonNegative,
    /** Workers running per stage name. */
    stages: z.record(z.string().max(128), count).refine(r => Object.keys(r).length <= 64, 'at most 64 stages')
  }),
  weight: z.number().finite().min(-1e6).max(1e6),
  strategy: strategySchema
})

const claimSchema = z.object({ id, incarnation: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) })

export const heartbeatSchema = z.object({
  v: z.literal(1),
  seq: z.number().int().min(0),
  member: memberEntrySchema,
  /** Members the sender suspects or holds failed: confirmations for others, a call to refute for the member itself. */
  suspects: z.array(claimSchema.extend({ state: z.enum(['suspect', 'failed']) })).max(256),
  /** Live reports: suspected members the sender still hears, and how long ago. */
  hears: z.array(claimSchema.extend({ ageMs: nonNegative })).max(256)
})

export const syncMessageSchema = z.object({
  v: z.literal(1),
  members: z.array(memberEntrySchema).max(10_000)
})

export type MemberState = z.infer<typeof memberStateSchema>
export type MemberRole = z.infer<typeof roleSchema>
export type Strategy = z.infer<typeof strategySchema>
export type MemberEntry = z.infer<typeof memberEntrySchema>
export type Heartbeat = z.infer<typeof heartbeatSchema>
export type SyncMessage = z.infer<typeof syncMessageSchema>
