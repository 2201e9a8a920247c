import { Task } from './task.ts'
import type { TaskStatus } from './types.ts'
import type { WireError } from '../wire/wire-error.ts'

/**
 * What a session keeps of a final task until its result is forgotten: one
 * flat record, no emitter, promise, closure or input. An owner serves results
 * for `resultTtlMs` (ten minutes by default); at tens of thousands of tasks a
 * second, keeping each final Task object itself made the heap, and the
 * collector's work on every task, grow with every result kept.
 */
/**
 * Times are kept as milliseconds since this: small integers, held in the record
 * itself, where a time since 1970 is a number object of its own (three more
 * objects per kept result for the collector to copy and mark).
 */
const EPOCH = Date.now()

export class FinishedTask {
  readonly module: string
  readonly path: string | undefined
  readonly priority: number
  readonly maxRetries: number
  readonly timeoutMs: number | undefined
  readonly submitter: string | undefined
  readonly status: TaskStatus
  readonly attempts: number
  readonly agent: string | undefined
  readonly error: WireError | undefined
  readonly value: unknown
  readonly progress: unknown
  /** The task's number in its session and its id's random part (the session's index: see TaskIndex). */
  readonly seq: number | undefined
  readonly nonce: string | undefined
  readonly #submitted: number
  readonly #started: number | undefined
  readonly #ended: number

  constructor (task: Task) {
    // one destructuring: the record takes exactly these fields of the task, nothing that holds on to more
    ({
      module: this.module, path: this.path, priority: this.priority, maxRetries: this.maxRetries, timeoutMs: this.timeoutMs,
      submitter: this.submitter, status: this.status, attempts: this.attempts, agent: this.agent,
      error: this.error, value: this.value, progressValue: this.progress, seq: this.seq, nonce: this.nonce
    } = task)
    this.#submitted = task.submittedAt - EPOCH
    this.#started = task.startedAt == null ? undefined : task.startedAt - EPOCH
    this.#ended = (task.endedAt ?? 0) - EPOCH
  }

  get submittedAt (): number {
    return this.#submitted + EPOCH
  }

  get startedAt (): number | undefined {
    return this.#started == null ? undefined : this.#started + EPOCH
  }

  get endedAt (): number {
    return this.#ended + EPOCH
  }

  /** A handle on it again (settled, final: `result()`, `info()` as the original's), for a lookup by id. */
  toTask (id: string, session: string): Task {
    return new Task({
      id,
      session,
      module: this.module,
      path: this.path,
      input: undefined,
      priority: this.priority,
      maxRetries: this.maxRetries,
      timeoutMs: this.timeoutMs,
      submittedAt: this.submittedAt,
      submitter: this.submitter,
      restored: { status: this.status, attempts: this.attempts, startedAt: this.startedAt, endedAt: this.endedAt, agent: this.agent, error: this.error, value: this.value, progress: this.progress }
    })
  }
}
