import { EventEmitter } from 'node:events'
import type { TaskEvent, TaskInfo, TaskStatus } from './types.ts'
import { isFinal } from './types.ts'
import type { WireError } from '../wire/wire-error.ts'
import { RemoteError } from '../wire/wire-error.ts'
import { ERR_TASK_CANCELLED, ERR_TASK_LOST, ERR_TASK_TIMEOUT, GridError, TaskCancelledError, TaskError, TaskLostError, TaskTimeoutError } from '../errors.ts'

export interface TaskInit {
  id: string
  session: string
  module: string
  input: unknown
  priority: number
  maxRetries: number
  timeoutMs?: number
  submittedAt?: number
}

/**
 * The one party every task reports to (its session), called directly rather
 * than through listeners: a session follows every task, and per-task listener
 * closures and event objects showed in the task path's profile.
 */
export interface TaskObserver {
  status: (task: Task, previous: TaskStatus) => void
  progress: (task: Task, value: unknown) => void
  cancel: (task: Task, reason: string) => void
}

export interface TaskHandleEvents {
  status: [TaskEvent & { type: 'status' }]
  progress: [TaskEvent & { type: 'progress' }]
}

/**
 * One task on its owner: its state machine, its result, its events. The
 * scheduler is its only writer (`mark*`); callers read, await `result()`,
 * listen, or `cancel()` (which asks its session, its observer, to cancel it).
 */
export class Task extends EventEmitter<TaskHandleEvents> {
  readonly id: string
  readonly session: string
  readonly module: string
  readonly input: unknown
  readonly priority: number
  readonly maxRetries: number
  readonly timeoutMs?: number
  readonly submittedAt: number
  status: TaskStatus = 'queued'
  attempts = 0
  startedAt?: number
  endedAt?: number
  /** The agent of the current (or last) attempt. */
  agent?: string
  error?: WireError
  value?: unknown
  /** Resolves once the task is final (never rejects). */
  readonly settled: Promise<void>
  private settle!: () => void
  private observer?: TaskObserver

  constructor (init: TaskInit) {
    super()
    this.id = init.id
    this.session = init.session
    this.module = init.module
    this.input = init.input
    this.priority = init.priority
    this.maxRetries = init.maxRetries
    this.timeoutMs = init.timeoutMs
    this.submittedAt = init.submittedAt ?? Date.now()
    this.settled = new Promise(resolve => { this.settle = resolve })
  }

  get final (): boolean {
    return isFinal(this.status)
  }

  /** The task's value, or a TaskError (its remote stack kept), TaskTimeoutError, TaskCancelledError or TaskLostError. */
  async result (): Promise<unknown> {
    await this.settled
    if (this.status === 'completed') return this.value
    throw this.failure()
  }

  /** Cancels the task wherever it is: a running one has its signal aborted (and its worker killed after a grace period). */
  cancel (reason = 'cancelled by the caller'): void {
    if (!this.final) this.observer?.cancel(this, reason)
  }

  info (): TaskInfo {
    return {
      id: this.id,
      session: this.session,
      module: this.module,
      status: this.status,
      priority: this.priority,
      attempts: this.attempts,
      agent: this.agent,
      submittedAt: this.submittedAt,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      error: this.error
    }
  }

  // ---- the scheduler's side ----

  /** Its session: told of every status change and progress, asked to cancel. */
  observe (observer: TaskObserver): void {
    this.observer = observer
  }

  mark (status: Exclude<TaskStatus, 'completed'>, error?: WireError): void {
    if (this.final) return
    const previous = this.status
    if (status === 'dispatched') this.attempts++
    if (status === 'running') this.startedAt ??= Date.now()
    this.status = status
    if (error != null) this.error = error
    this.announce(previous)
  }

  complete (value: unknown): void {
    if (this.final) return
    const previous = this.status
    this.status = 'completed'
    this.value = value
    this.announce(previous)
  }

  progress (value: unknown): void {
    if (this.final) return
    this.observer?.progress(this, value)
    if (this.listenerCount('progress') > 0) this.emit('progress', { type: 'progress', task: this.id, value })
  }

  /** The status event, as the handle emits it and a session's events() yields it. */
  statusEvent (): TaskEvent & { type: 'status' } {
    return { type: 'status', task: this.id, status: this.status, attempts: this.attempts }
  }

  private announce (previous: TaskStatus): void {
    const final = this.final
    if (final) this.endedAt = Date.now()
    this.observer?.status(this, previous)
    if (this.listenerCount('status') > 0) this.emit('status', this.statusEvent())
    if (final) this.settle()
  }

  private failure (): GridError {
    const error = this.error ?? { name: 'Error', message: `task ended ${this.status}` }
    if (this.status === 'timeout' || error.code === ERR_TASK_TIMEOUT) return new TaskTimeoutError(this.id, this.timeoutMs ?? 0)
    if (this.status === 'cancelled' || error.code === ERR_TASK_CANCELLED) return new TaskCancelledError(this.id, error.message)
    if (error.code === ERR_TASK_LOST) return new TaskLostError(this.id, this.attempts, { cause: new RemoteError(error) })
    return new TaskError(this.id, error, { cause: new RemoteError(error) })
  }
}
