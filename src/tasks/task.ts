import { EventEmitter } from 'node:events'
import type { TaskEvent, TaskInfo, TaskStatus } from './types.ts'
import { isFinal } from './types.ts'
import { checkSignalOption } from '../checks/check.ts'
import type { SignalOption } from '../checks/check.ts'
import type { WireError } from '../wire/wire-error.ts'
import type { JournalEntry } from './journal-entry.ts'
import { RemoteError, toWireError } from '../wire/wire-error.ts'
import { ERR_RESULT_TOO_LARGE, ERR_TASK_CANCELLED, ERR_TASK_LOST, ERR_TASK_TIMEOUT, GridError, NodeStoppedError, ResultTooLargeError, TaskCancelledError, TaskError, TaskLostError, TaskTimeoutError } from '../errors.ts'
import { endedByStop } from './stopped-task.ts'

export interface TaskInit {
  id: string
  session: string
  module: string
  /** See TaskInfo.path (set by the scheduler when it queues the task). */
  path?: string
  input: unknown
  priority: number
  maxRetries: number
  timeoutMs?: number
  submittedAt?: number
  /** Peer id of whoever submitted it. */
  submitter?: string
  /** Where a task reloaded from the journal had got to (a final one is settled at once). */
  restored?: TaskState
  /** Its number in its session, and the random part of its id (see taskId): how its session finds it once final. */
  seq?: number
  nonce?: string
}

/** What of a task changes as it runs: enough, with TaskInit, to rebuild it. */
export interface TaskState {
  status: TaskStatus
  attempts: number
  /** Its losses so far counted against `maxRetries`, and excused (loss.ts); undefined: not known (see Task.countedLosses). */
  countedLosses?: number
  excusedLosses?: number
  startedAt?: number
  endedAt?: number
  agent?: string
  error?: WireError
  value?: unknown
  /** The last `ctx.progress` value. */
  progress?: unknown
}

/**
 * The one party every task reports to (its session), called directly rather
 * than through listeners: a session follows every task, and per-task listener
 * closures and event objects showed in the task path's profile.
 */
export interface TaskObserver {
  status: (task: Task, previous: TaskStatus) => void
  progress: (task: Task, value: unknown) => void
  log: (task: Task, line: string) => void
  cancel: (task: Task, reason: string) => void
  /** A listener of the task's handle threw (logged by the node; the task goes on). */
  listenerThrew?: (task: Task, event: keyof TaskHandleEvents, err: unknown) => void
}

export interface TaskHandleEvents {
  status: [TaskEvent & { type: 'status' }]
  progress: [TaskEvent & { type: 'progress' }]
  log: [TaskEvent & { type: 'log' }]
}

type Listener<E extends keyof TaskHandleEvents> = (...args: TaskHandleEvents[E]) => void

/**
 * One task on its owner: its state machine, its result, its events. The
 * scheduler is its only writer (`mark*`); callers read, await `result()`,
 * listen (`on`, `once`, `off`: an EventEmitter's, made on first use, as few
 * handles are ever listened to), or `cancel()` (which asks its session, its
 * observer, to cancel it).
 */
export class Task {
  readonly id: string
  readonly session: string
  readonly module: string
  /** See TaskInfo.path: set once, by the scheduler as it queues the task. */
  path?: string
  readonly input: unknown
  readonly priority: number
  readonly maxRetries: number
  readonly timeoutMs?: number
  readonly submittedAt: number
  readonly submitter?: string
  /** See TaskInit.seq. */
  readonly seq?: number
  readonly nonce?: string
  status: TaskStatus = 'queued'
  /** Attempts started so far: it never goes down (clients watch it). */
  attempts = 0
  /**
   * Lost attempts counted against `maxRetries` (the pool's to count: a loss not the task's doing is not,
   * see loss.ts). Journaled with `excusedLosses`; restored from a row from before them, every attempt that
   * ended counts (only `attempts` was kept).
   */
  countedLosses = 0
  /** Losses excused so far (not counted): the pool counts them once there were too many (see loss.ts). */
  excusedLosses = 0
  /** Its last attempt was taken back unstarted (see recalled): the next dispatch is that attempt again. */
  private attemptUnstarted = false
  startedAt?: number
  endedAt?: number
  /** The agent of the current (or last) attempt. */
  agent?: string
  /** The last `ctx.progress` value. */
  private lastProgress?: unknown
  error?: WireError
  value?: unknown
  /** Made when first asked for (most tasks are only awaited through `result()`). */
  private settledPromise?: Promise<void>
  /** Set by the service: checks a value before it completes the task (the result size cap); what it throws fails the task instead. */
  checkResult?: (value: unknown) => void
  /** The journal's bookkeeping for this task, when the node journals (JournalRecorder's alone). */
  journal?: JournalEntry
  private settle?: () => void
  /** Waits that end on their own (a timeout) and take their listener back (`whenSettled`). */
  private settleListeners?: Set<() => void>
  /** `result()`'s promise, made on the first call and settled as the task ends: one promise per awaited task, not two and a callback. */
  private resultPromise?: Promise<unknown>
  private resolveResult?: (value: unknown) => void
  private rejectResult?: (err: Error) => void
  private observer?: TaskObserver
  /** Made by the first listener: an emitter per task showed in the task path's profile. */
  private emitter?: EventEmitter<TaskHandleEvents>

  constructor (init: TaskInit) {
    this.id = init.id
    this.session = init.session
    this.module = init.module
    this.path = init.path
    this.input = init.input
    this.priority = init.priority
    this.maxRetries = init.maxRetries
    this.timeoutMs = init.timeoutMs
    this.submittedAt = init.submittedAt ?? Date.now()
    this.submitter = init.submitter
    this.seq = init.seq
    this.nonce = init.nonce
    if (init.restored != null) {
      ({ status: this.status, attempts: this.attempts, startedAt: this.startedAt, endedAt: this.endedAt, agent: this.agent, error: this.error, value: this.value, progress: this.lastProgress } = init.restored)
      const { countedLosses, excusedLosses } = init.restored
      // the attempt in flight, if any, has not ended: its owner's restart decides what it is (journal-resume.ts)
      this.countedLosses = countedLosses ?? this.attempts - (this.status === 'dispatched' || this.status === 'running' ? 1 : 0)
      this.excusedLosses = excusedLosses ?? 0
    }
  }

  get final (): boolean {
    return isFinal(this.status)
  }

  /** Resolves once the task is final (never rejects). */
  get settled (): Promise<void> {
    if (this.settledPromise == null) {
      this.settledPromise = this.final ? Promise.resolve() : new Promise(resolve => { this.settle = resolve })
    }
    return this.settledPromise
  }

  /**
   * Calls `listener` once the task is final (at once if it is); the returned function takes it back. For a
   * wait with a timeout: a reaction on `settled` would stay until the task ends, and a caller waiting on a
   * long task with a short timeout, in a loop, would pile them up.
   */
  whenSettled (listener: () => void): () => void {
    if (this.final) {
      listener()
      return () => {}
    }
    const listeners = (this.settleListeners ??= new Set())
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }

  /**
   * The task's value, or a TaskError (its remote stack kept), TaskTimeoutError, TaskCancelledError, TaskLostError,
   * ResultTooLargeError, or NodeStoppedError (ERR_NODE_STOPPED, retryable: its node stopped gracefully and its
   * journal resumes the task at the next start; the task has not ended).
   * `signal` gives up this wait only (rejected with its reason): the task goes on; `cancel()` is what cancels it.
   */
  result (options?: SignalOption): Promise<unknown> {
    let signal: AbortSignal | undefined
    try {
      signal = options == null ? undefined : checkSignalOption('result', options)
    } catch (err) {
      // rejected, not thrown: a caller's .catch() sees bad options as it sees the task's own failure
      return Promise.reject(err)
    }
    if (signal != null) return this.resultUntil(signal)
    // not async, and no await of `settled` when final: a run's promise is one of the per-task costs
    if (this.final) return this.status === 'completed' ? Promise.resolve(this.value) : Promise.reject(this.failure())
    this.resultPromise ??= new Promise((resolve, reject) => { this.resolveResult = resolve; this.rejectResult = reject })
    return this.resultPromise
  }

  /** `result()` until `signal` aborts: no listener stays on the signal or the handle either way (a caller may wait in a loop). */
  private resultUntil (signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) return Promise.reject(signal.reason)
    if (this.final) return this.result()
    return new Promise((resolve, reject) => {
      const onAbort = (): void => { stopWaiting(); reject(signal.reason) }
      const stopWaiting = this.whenSettled(() => {
        signal.removeEventListener('abort', onAbort)
        this.result().then(resolve, reject)
      })
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Queued again by a recall, unstarted (see recalled), until its next dispatch: no retry, as no attempt was lost. */
  get recalledUnstarted (): boolean {
    return this.attemptUnstarted
  }

  /** The last `ctx.progress` value, if any. */
  get progressValue (): unknown {
    return this.lastProgress
  }

  /** Cancels the task wherever it is: a running one has its signal aborted (and its worker killed after a grace period). */
  cancel (reason = 'cancelled by the caller'): void {
    if (!this.final) this.observer?.cancel(this, reason)
  }

  on<E extends keyof TaskHandleEvents> (event: E, listener: Listener<E>): this {
    this.events().on(event, listener as never)
    return this
  }

  once<E extends keyof TaskHandleEvents> (event: E, listener: Listener<E>): this {
    this.events().once(event, listener as never)
    return this
  }

  off<E extends keyof TaskHandleEvents> (event: E, listener: Listener<E>): this {
    this.emitter?.off(event, listener as never)
    return this
  }

  addListener<E extends keyof TaskHandleEvents> (event: E, listener: Listener<E>): this {
    return this.on(event, listener)
  }

  removeListener<E extends keyof TaskHandleEvents> (event: E, listener: Listener<E>): this {
    return this.off(event, listener)
  }

  removeAllListeners (event?: keyof TaskHandleEvents): this {
    this.emitter?.removeAllListeners(event)
    return this
  }

  listenerCount (event: keyof TaskHandleEvents): number {
    return this.emitter?.listenerCount(event) ?? 0
  }

  info (): TaskInfo {
    return {
      id: this.id,
      session: this.session,
      module: this.module,
      path: this.path,
      status: this.status,
      priority: this.priority,
      attempts: this.attempts,
      submitter: this.submitter,
      agent: this.agent,
      progress: this.lastProgress,
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
    if (status === 'dispatched') {
      if (this.attemptUnstarted) this.attemptUnstarted = false
      else this.attempts++
    }
    if (status === 'running') this.startedAt ??= Date.now()
    this.status = status
    if (error != null) this.error = error
    this.announce(previous)
  }

  /**
   * Taken back unstarted from a worker (it waited there behind a long task): queued again, that attempt not
   * counted: its next dispatch carries the same number, as attempts never go down.
   */
  recalled (): void {
    if (this.final) return
    this.attemptUnstarted = true
    this.mark('queued')
  }

  complete (value: unknown): void {
    if (this.final) return
    try {
      this.checkResult?.(value)
    } catch (err) {
      this.mark('failed', toWireError(err))
      return
    }
    const previous = this.status
    this.status = 'completed'
    this.value = value
    this.announce(previous)
  }

  progress (value: unknown): void {
    if (this.final) return
    this.lastProgress = value
    this.observer?.progress(this, value)
    if (this.emitter != null) this.tell('progress', { type: 'progress', task: this.id, value })
  }

  /** A line the task passed to `ctx.log`. */
  log (line: string): void {
    if (this.final) return
    this.observer?.log(this, line)
    if (this.emitter != null) this.tell('log', { type: 'log', task: this.id, line })
  }

  /** The status event, as the handle emits it and a session's events() yields it. */
  statusEvent (): TaskEvent & { type: 'status' } {
    return { type: 'status', task: this.id, status: this.status, attempts: this.attempts }
  }

  private announce (previous: TaskStatus): void {
    const final = this.final
    if (final) this.endedAt = Date.now()
    this.observer?.status(this, previous)
    if (this.emitter != null) this.tell('status', this.statusEvent())
    if (!final) return
    this.settle?.()
    const listeners = this.settleListeners
    this.settleListeners = undefined
    for (const listener of listeners ?? []) listener()
    if (this.resolveResult == null) return
    if (this.status === 'completed') this.resolveResult(this.value)
    else this.rejectResult!(this.failure())
  }

  /**
   * Tells the handle's listeners. One that throws is reported to the session, not thrown into the code that
   * reported the change: a throwing 'status' listener skipped the settling below (result() never settled).
   */
  private tell<E extends keyof TaskHandleEvents> (event: E, payload: TaskHandleEvents[E][0]): void {
    const emitter = this.emitter!
    if (emitter.listenerCount(event) === 0) return
    try {
      emitter.emit(event, ...([payload] as never))
    } catch (err) {
      this.observer?.listenerThrew?.(this, event, err)
    }
  }

  private events (): EventEmitter<TaskHandleEvents> {
    return (this.emitter ??= new EventEmitter<TaskHandleEvents>())
  }

  private failure (): GridError {
    const error = this.error ?? { name: 'Error', message: `task ended ${this.status}` }
    if (this.status === 'timeout' || error.code === ERR_TASK_TIMEOUT) return new TaskTimeoutError(this.id, this.timeoutMs ?? 0)
    // its owner's stop ended it here alone: it has not ended, its journal resumes it
    if (endedByStop(this)) return new NodeStoppedError(error.message, { retryable: true })
    // the stored error is the TaskCancelledError as recorded: its reason alone, or the message said its prefix twice
    if (this.status === 'cancelled' || error.code === ERR_TASK_CANCELLED) return new TaskCancelledError(this.id, withoutPrefix(error.message, `task ${this.id} was cancelled: `))
    if (error.code === ERR_RESULT_TOO_LARGE) return new ResultTooLargeError(this.id, 'its result was over tasks.maxResultBytes', { cause: new RemoteError(error) })
    // recorded as a TaskLostError's own text (pool.ts, journal-resume.ts): rebuilt, not wrapped in its prefix again
    if (error.code === ERR_TASK_LOST) return new TaskLostError(this.id, this.attempts, { cause: new RemoteError(error), said: error.message })
    return new TaskError(this.id, error, { cause: new RemoteError(error) })
  }
}

function withoutPrefix (text: string, prefix: string): string {
  return text.startsWith(prefix) ? text.slice(prefix.length) : text
}
