import { inspect } from 'node:util'
import * as v from 'valibot'
import { GridError, RemoteError, StageSetupError, WorkerExitedError, WorkerStoppedError } from '../errors.ts'

// received wire errors are rethrown as RemoteError (a GridError keeping the remote code)
export { RemoteError }

/** An error as it crosses a process or network boundary: name, message, stack, code and retryable survive. */
const LIMITS = { name: 256, message: 64 * 1024, stack: 256 * 1024, code: 128 }
const text = (max: number) => v.pipe(v.string(), v.maxLength(max))

export const wireErrorSchema = v.object({
  name: text(LIMITS.name),
  message: text(LIMITS.message),
  stack: v.optional(text(LIMITS.stack)),
  code: v.optional(text(LIMITS.code)),
  retryable: v.optional(v.boolean())
})

export type WireError = v.InferOutput<typeof wireErrorSchema>

/**
 * The wire form of anything thrown, cut to the schema's limits: an oversized
 * message must not make the receiver drop the whole stream it came on.
 */
export function toWireError (err: unknown): WireError {
  if (!(err instanceof Error)) return nonError(err)
  const code = (err as { code?: unknown }).code
  return {
    name: clip(err.name, LIMITS.name),
    message: clip(err.message, LIMITS.message),
    stack: err.stack == null ? undefined : clip(err.stack, LIMITS.stack),
    code: typeof code === 'string' ? clip(code, LIMITS.code) : undefined,
    retryable: err instanceof GridError ? err.retryable : undefined
  }
}

/**
 * Why a worker's items fail once it has exited: stopped by its agent (WorkerStoppedError: they are not
 * suspects), else a crash with its own last error (as the cause, with its code) or its exit status.
 */
export function workerExitedError (workerId: string, exit: { code: number | null, signal: string | null, error?: WireError, stopped?: true, setupFailed?: true }): WorkerExitedError | WorkerStoppedError | StageSetupError {
  const detail = exit.error != null ? `${exit.error.name}: ${exit.error.message}` : `code ${exit.code} signal ${exit.signal}`
  if (exit.stopped === true) return new WorkerStoppedError(workerId, exit.signal != null && exit.signal !== 'SIGKILL' && exit.error == null ? `by ${exit.signal} (a stop request; ${detail})` : `by its agent (${detail})`)
  if (exit.setupFailed === true) return withRemoteFrames(new StageSetupError(workerId, detail, { cause: exit.error == null ? undefined : new RemoteError(exit.error) }), exit.error)
  return new WorkerExitedError(workerId, detail, { cause: exit.error == null ? undefined : new RemoteError(exit.error) })
}

/**
 * A failed setup's stack is the stage's own (its module's file and line, where it threw while loading or in
 * `setup`) under the setup error's own first line: the owner's frames where it noticed the exit say nothing,
 * and a task's error crosses the wire (CLI, HTTP API, `TaskError.remoteStack`) as its stack alone, its cause lost.
 */
function withRemoteFrames (err: StageSetupError, remote: WireError | undefined): StageSetupError {
  if (remote?.stack == null) return err
  const head = `${remote.name}: ${remote.message}`
  const frames = remote.stack.startsWith(head) ? remote.stack.slice(head.length) : `\n${remote.stack}`
  err.stack = `${err.name}: ${err.message}${frames}`
  return err
}

/** One of the errors `workerExitedError` makes: the item's worker ended under it (not the item's own failure). */
export function isWorkerExit (err: unknown): err is WorkerExitedError | WorkerStoppedError | StageSetupError {
  return err instanceof WorkerExitedError || err instanceof WorkerStoppedError || err instanceof StageSetupError
}

function clip (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/**
 * Something thrown that is not an Error (a string, undefined, a plain object): its message shows the value
 * (a string as it is, anything else as util.inspect shows it, cycles included: String() said
 * '[object Object]'), and its stack says there is none, so the receiver's RemoteError does not take its own
 * stack (frames of the agent's or owner's code) for the place it was thrown.
 */
function nonError (value: unknown): WireError {
  const message = clip(describe(value), LIMITS.message)
  const kind = value == null ? String(value) : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`
  return { name: 'Error', message, stack: `Error: ${clip(message, 1024)}\n    (${kind} was thrown, not an Error: no stack; throw an Error to see where)` }
}

/** Keys shown of each object in a thrown value: util.inspect has no bound on keys (an object of 1e6 keys, or one nested in it, took 1-3 s and 17-24 MB, in the worker that threw, whose heap may be capped at 32 MB). */
const MAX_KEYS = 50
const DEPTH = 2

function describe (value: unknown): string {
  if (typeof value === 'string') return value
  try {
    return inspect(bounded(value, DEPTH), { depth: DEPTH, breakLength: Infinity, maxArrayLength: 20, maxStringLength: 1024 })
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/**
 * A copy of `value` with at most MAX_KEYS own keys per object, down to `depth` levels (deeper objects as their
 * kind): read by property descriptor, so a getter runs no code here, and never the whole key list.
 */
function bounded (value: unknown, depth: number, copies = new Map<object, unknown>()): unknown {
  if (value === null || typeof value !== 'object') return value
  // a cycle stays one (inspect shows it as such), through the copies
  if (copies.has(value)) return copies.get(value)
  if (depth < 0) return Array.isArray(value) ? '[Array]' : '[Object]'
  if (value instanceof Map || value instanceof Set || value instanceof Date || value instanceof RegExp || ArrayBuffer.isView(value)) return value
  if (Array.isArray(value)) {
    const items: unknown[] = []
    copies.set(value, items)
    for (const v of value.slice(0, 20)) items.push(bounded(v, depth - 1, copies))
    return items
  }
  const copy: Record<string, unknown> = {}
  copies.set(value, copy)
  let count = 0
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    if (++count > MAX_KEYS) {
      copy['…'] = `more than ${MAX_KEYS} keys`
      break
    }
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    copy[key] = descriptor == null || 'value' in descriptor ? bounded(descriptor?.value, depth - 1, copies) : '[Getter]'
  }
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  if (typeof name === 'string' && name !== 'Object' && name !== '') Object.defineProperty(copy, Symbol.toStringTag, { value: name })
  return copy
}
