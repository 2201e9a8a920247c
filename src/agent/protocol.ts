import { z } from 'zod'
import { wireErrorSchema } from './wire-error.ts'

export const SPAWN_PROTOCOL = '/gridd/spawn/1.0.0'
export const WORKER_PROTOCOL = '/gridd/worker/1.0.0'

const resources = z.object({ cpu: z.number().finite().min(0).max(1024), memoryMb: z.number().finite().min(0).max(16 * 1024 * 1024) })
const workerId = z.string().regex(/^w-[0-9a-f]{12}$/)

export const spawnRequestSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('spawn'),
    stage: z.string().min(1).max(128),
    module: z.object({ path: z.string().min(1).max(4096), sha256: z.string().length(64), source: z.string().max(4 * 1024 * 1024).optional() }),
    resources,
    env: z.record(z.string().max(256), z.string().max(64 * 1024)).optional(),
    concurrency: z.number().int().min(1).max(10_000).optional()
  }),
  z.object({ op: z.literal('kill'), id: workerId, graceful: z.boolean() }),
  z.object({ op: z.literal('list') })
])

export const workerInfoSchema = z.object({ id: workerId, stage: z.string(), pid: z.number().int(), resources })

export const workerExitSchema = z.object({ code: z.number().int().nullable(), signal: z.string().nullable(), error: wireErrorSchema.optional() })

export const spawnResponseSchema = z.union([
  z.object({ ok: z.literal(true), worker: workerInfoSchema.optional(), workers: z.array(workerInfoSchema).optional(), exit: workerExitSchema.optional() }),
  z.object({ ok: z.literal(false), needSource: z.boolean().optional(), error: wireErrorSchema })
])

/** Requester -> agent on a worker stream (the first message names the worker). */
export const workerUpSchema = z.union([
  z.object({ type: z.literal('attach'), id: workerId }),
  z.object({ type: z.literal('batch'), items: z.array(z.object({ n: z.number().int().min(0), item: z.unknown() })).max(65_536) })
])

/** Agent -> requester on a worker stream. */
export const workerDownSchema = z.union([
  // error first: a union takes the first branch that parses, and `value: unknown` accepts anything
  z.object({ type: z.literal('results'), results: z.array(z.union([
    z.object({ n: z.number().int().min(0), error: wireErrorSchema }),
    z.object({ n: z.number().int().min(0), value: z.unknown() })
  ])).max(65_536) }),
  z.object({ type: z.literal('exit'), exit: workerExitSchema })
])

export type SpawnRequestMessage = z.infer<typeof spawnRequestSchema>
export type SpawnResponseMessage = z.infer<typeof spawnResponseSchema>
export type WorkerDown = z.infer<typeof workerDownSchema>
