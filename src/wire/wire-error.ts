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
  if (exit.setupFailed === true) return new StageSetupError(workerId, detail, { cause: exit.error == null ? undefined : new RemoteError(exit.error) })
  return new WorkerExitedError(workerId, detail, { cause: exit.error == null ? undefined : new RemoteError(exit.error) })
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

/** Keys of a thrown object shown: util.inspect has no bound on keys (an object of 1e6 keys took 3 s and 24 MB, in a worker whose heap may be capped at 32 MB). */
const MAX_KEYS = 50

function describe (value: unknown): string {
  if (typeof value === 'string') return value
  const options = { depth: 2, breakLength: Infinity, maxArrayLength: 20, maxStringLength: 1024 }
  try {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return inspect(value, options)
    const shown: Record<string, unknown> = {}
    let count = 0
    // the first keys only, never the whole list
    for (const key in value) {
      if (++count > MAX_KEYS) break
      shown[key] = (value as Record<string, unknown>)[key]
    }
    if (count <= MAX_KEYS) return inspect(value, options)
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name
    return `${typeof name === 'string' && name !== 'Object' ? `${name} ` : ''}${inspect(shown, options).replace(/ ?}$/, ` … more than ${MAX_KEYS} keys }`)}`
  } catch {
    return Object.prototype.toString.call(value)
  }
}
