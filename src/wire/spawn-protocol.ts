import * as v from 'valibot'
import { wireErrorSchema } from './wire-error.ts'
import { concurrency, cpuSlots, memoryMb, stageName } from '../checks/values.ts'

export const SPAWN_PROTOCOL = '/gridd/spawn/1.0.0'
export const WORKER_PROTOCOL = '/gridd/worker/1.0.0'

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max))
const text = (max: number) => v.pipe(v.string(), v.maxLength(max))
const resources = v.object({ cpu: cpuSlots, memoryMb })
const workerId = v.pipe(v.string(), v.regex(/^w-[0-9a-f]{12}$/))
const itemNumber = int(0, Number.MAX_SAFE_INTEGER)

export const spawnRequestSchema = v.variant('op', [
  v.object({
    op: v.literal('spawn'),
    stage: stageName,
    module: v.object({ path: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)), sha256: v.pipe(v.string(), v.length(64)), source: v.optional(text(4 * 1024 * 1024)) }),
    resources,
    env: v.optional(v.record(text(256), text(64 * 1024))),
    concurrency: v.optional(concurrency)
  }),
  v.object({ op: v.literal('kill'), id: workerId, graceful: v.boolean() }),
  v.object({ op: v.literal('list') })
])

export const workerInfoSchema = v.object({ id: workerId, stage: stageName, pid: v.pipe(v.number(), v.integer()), resources })

export const workerExitSchema = v.object({ code: v.nullable(v.pipe(v.number(), v.integer())), signal: v.nullable(v.string()), error: v.optional(wireErrorSchema) })

export const spawnResponseSchema = v.variant('ok', [
  v.object({ ok: v.literal(true), worker: v.optional(workerInfoSchema), workers: v.optional(v.array(workerInfoSchema)), exit: v.optional(workerExitSchema) }),
  v.object({ ok: v.literal(false), needSource: v.optional(v.boolean()), error: wireErrorSchema })
])

/** Requester -> agent on a worker stream (the first message names the worker). */
export const workerUpSchema = v.variant('type', [
  v.object({ type: v.literal('attach'), id: workerId }),
  v.object({ type: v.literal('batch'), items: v.pipe(v.array(v.object({ n: itemNumber, item: v.unknown() })), v.maxLength(65_536)) })
])

/** Agent -> requester on a worker stream. */
export const workerDownSchema = v.variant('type', [
  // error first: a union takes the first branch that parses, and `value: unknown` accepts anything
  v.object({ type: v.literal('results'), results: v.pipe(v.array(v.union([
    v.object({ n: itemNumber, error: wireErrorSchema }),
    v.object({ n: itemNumber, value: v.unknown() })
  ])), v.maxLength(65_536)) }),
  v.object({ type: v.literal('exit'), exit: workerExitSchema })
])

export type SpawnRequestMessage = v.InferOutput<typeof spawnRequestSchema>
export type SpawnResponseMessage = v.InferOutput<typeof spawnResponseSchema>
export type WorkerDown = v.InferOutput<typeof workerDownSchema>
