import * as v from 'valibot'
import { toWireError, wireErrorSchema } from './wire-error.ts'
import { AgentFullError, ERR_AGENT_FULL, ERR_REMOTE, RemoteError } from '../errors.ts'
import type { GridError } from '../errors.ts'
import { MAX_TASK_LOG_LINE } from './task-log.ts'
import { concurrency, cpuSlots, memoryMb, stageName } from '../checks/values.ts'
import { batchItems, isRecord, TO_SCHEMA, valueOrStarted, withFastPath } from './fast-checks.ts'

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

// `stopped`: the agent stopped the worker, `setupFailed`: it ended in setup (see WorkerExit); `agentLost` is never read from the wire (the object drops it)
export const workerExitSchema = v.object({ code: v.nullable(v.pipe(v.number(), v.integer())), signal: v.nullable(v.string()), error: v.optional(wireErrorSchema), stopped: v.optional(v.literal(true)), setupFailed: v.optional(v.literal(true)) })

export const spawnResponseSchema = v.variant('ok', [
  v.object({ ok: v.literal(true), worker: v.optional(workerInfoSchema), workers: v.optional(v.array(workerInfoSchema)), exit: v.optional(workerExitSchema) }),
  // a failed spawn: `code` decides what the requester does next (ERR_MODULE_MISSING: send the source;
  // ERR_AGENT_FULL, ERR_SPAWN_REFUSED: try the next agent); `lacks` says what a full agent lacked
  v.object({ ok: v.literal(false), code: text(128), lacks: v.optional(v.pipe(v.array(text(256)), v.maxLength(8))), error: wireErrorSchema })
])

export type SpawnFailure = Extract<v.InferOutput<typeof spawnResponseSchema>, { ok: false }>

/** The agent's answer when a spawn request fails, from what was thrown. */
export function spawnFailure (err: unknown): SpawnFailure {
  const error = toWireError(err)
  return { ok: false, code: error.code ?? ERR_REMOTE, lacks: err instanceof AgentFullError ? err.lacks.slice(0, 8).map(l => l.slice(0, 256)) : undefined, error }
}

/** The requester's view of a failed spawn: a GridError with the agent's code (AgentFullError keeps `lacks`). */
export function spawnFailureError (failure: SpawnFailure): GridError {
  return failure.code === ERR_AGENT_FULL ? new AgentFullError(failure.lacks ?? []) : new RemoteError({ ...failure.error, code: failure.code })
}

/**
 * The largest message of a worker stream, either way: the reader closes a stream that sends a larger one.
 * Senders split their batches to stay under it, and fail an item or result too large for one alone.
 */
export const MAX_WORKER_MESSAGE_BYTES = 16 * 1024 * 1024

/**
 * Items a requester may have sent on one worker stream and not yet had answered: the agent closes a
 * stream that exceeds it (ProtocolError), so a peer cannot queue unbounded work and memory there.
 * Requesters hold further items back until results come in (the pipeline's own window is far below).
 */
export const MAX_ITEMS_IN_FLIGHT = 4096

/**
 * Bytes of batch messages a requester may have sent on one worker stream with items not yet all answered
 * (bytes-in-flight.ts; four of the largest messages). The count alone let 4,096 items of up to 16 MiB each
 * be in flight on one stream: the agent, relaying them to a busy worker, held them. The agent closes a
 * stream past it (ProtocolError); requesters hold further messages back until results free room.
 */
export const MAX_BYTES_IN_FLIGHT = 4 * MAX_WORKER_MESSAGE_BYTES

const workerUpVariant = v.variant('type', [
  v.object({ type: v.literal('attach'), id: workerId }),
  // `task`: the item is a task (its own ctx.signal and ctx.progress; its start is reported); no `item`: undefined (JSON has none)
  v.object({ type: v.literal('batch'), items: v.pipe(v.array(v.object({ n: itemNumber, item: v.optional(v.unknown()), task: v.optional(v.literal(true)) })), v.maxLength(MAX_ITEMS_IN_FLIGHT)) }),
  // abort these tasks' signals (cancelled or timed out at the owner)
  v.object({ type: v.literal('cancel'), n: v.pipe(v.array(itemNumber), v.maxLength(MAX_ITEMS_IN_FLIGHT)) })
])

/** Requester -> agent on a worker stream (the first message names the worker); a batch's items are checked by hand (see fast-checks.ts). */
export const workerUpSchema = withFastPath(workerUpVariant, message => {
  if (!isRecord(message) || message.type !== 'batch') return TO_SCHEMA
  const items = batchItems(message.items, MAX_ITEMS_IN_FLIGHT)
  return items === TO_SCHEMA ? TO_SCHEMA : { type: 'batch' as const, items }
})

// what a results message carries: an item's outcome, or a task's notice (it started; its progress),
// in order with the results
const errorResult = v.object({ n: itemNumber, error: wireErrorSchema })
const startedNotice = v.object({ n: itemNumber, notice: v.literal('started') })
const progressNotice = v.object({ n: itemNumber, notice: v.literal('progress'), value: v.unknown() })
const logNotice = v.object({ n: itemNumber, notice: v.literal('log'), line: v.pipe(v.string(), v.maxLength(MAX_TASK_LOG_LINE)) })
// `value` may be missing: JSON leaves out a key whose value is undefined (a task or stage that returns nothing)
const valueResult = v.object({ n: itemNumber, value: v.optional(v.unknown()) })
type ResultEntry = v.InferOutput<typeof errorResult | typeof startedNotice | typeof progressNotice | typeof logNotice | typeof valueResult>

/**
 * One entry of a results message, checked against the one schema its keys name: `error` an error,
 * `notice` a notice, else a value (`value: unknown` accepts anything). A union would try the branches
 * in turn and build an issue, message text included, for each one that fails: about 1 µs per value
 * result, 7× its JSON.parse, on every result of every item and task.
 */
const resultEntry = v.pipe(v.unknown(), v.rawTransform<unknown, ResultEntry>(({ dataset, addIssue, NEVER }) => {
  const entry = dataset.value
  const keyed = typeof entry === 'object' && entry != null
  const schema = keyed && 'error' in entry
    ? errorResult
    : keyed && 'notice' in entry ? (entry.notice === 'progress' ? progressNotice : entry.notice === 'log' ? logNotice : startedNotice) : valueResult
  const parsed = v.safeParse(schema, entry)
  if (parsed.success) return parsed.output
  addIssue({ message: v.summarize(parsed.issues) })
  return NEVER
}))

/** Entries one results message may carry. */
const MAX_RESULTS = 65_536

const workerDownVariant = v.variant('type', [
  // notices (a task started; its progress; its log lines) travel in order with results
  v.object({ type: v.literal('results'), results: v.pipe(v.array(resultEntry), v.maxLength(MAX_RESULTS)) }),
  v.object({ type: v.literal('exit'), exit: workerExitSchema })
])

/** Agent -> requester on a worker stream; values and start notices are checked by hand (see fast-checks.ts), other entries by their schema. */
export const workerDownSchema = withFastPath(workerDownVariant, message => {
  if (!isRecord(message) || message.type !== 'results' || !Array.isArray(message.results) || message.results.length > MAX_RESULTS) return TO_SCHEMA
  const results: ResultEntry[] = []
  for (const entry of message.results as unknown[]) {
    const quick = valueOrStarted(entry)
    if (quick !== TO_SCHEMA) {
      results.push(quick)
      continue
    }
    const parsed = v.safeParse(resultEntry, entry)
    if (!parsed.success) return TO_SCHEMA
    results.push(parsed.output)
  }
  return { type: 'results' as const, results }
})

export type SpawnRequestMessage = v.InferOutput<typeof spawnRequestSchema>
export type SpawnResponseMessage = v.InferOutput<typeof spawnResponseSchema>
export type WorkerDown = v.InferOutput<typeof workerDownSchema>
