import { Task } from './task.ts'
import type { TaskObserver } from './task.ts'
import type { SessionEvent, SessionOptions, StatusCounts, TaskDefaults, TaskEvent, TaskInfo, TaskOptions, TaskStatus } from './types.ts'
import { TASK_STATUSES, emptyCounts } from './types.ts'
import { isRetry } from './stats.ts'
import { EventStream } from './event-stream.ts'
import { ConfigError, SessionClosedError } from '../errors.ts'
import { randomHex } from './random-hex.ts'
import { TaskIndex, taskId } from './task-index.ts'
import { FinishedTask } from './finished-task.ts'
import { checkModuleArgument, checkTaskOptions } from './options-check.ts'
import { toWireError } from '../wire/wire-error.ts'
import { checkKnownKeys, checkSignalOption, shown } from '../checks/check.ts'
import type { KnownKeys, SignalOption } from '../checks/check.ts'

const TASKS_FILTER_KEYS: KnownKeys<{ status?: TaskStatus }> = { status: true }

/** What a session asks of its service: where a task goes once made. */
export interface SessionHost {
  enqueue: (task: Task, module: string | URL, options: TaskOptions) => void
  /** Throws if the service takes no new task now (NodeStoppedError once it is stopping), before the session's own checks. */
  checkAccepting?: () => void
  /** Refuses a module no worker could load (ConfigError), before any task of it is made. */
  checkModule?: (module: string | URL) => void
  cancel: (task: Task, reason: string) => void
  /** The session was closed (or cancelled): told once. */
  closed?: (session: Session) => void
  /** Every status change of every task of the session (node-wide figures). */
  changed?: (task: Task, previous: TaskStatus) => void
  /** A listener of a task's handle threw. */
  listenerThrew?: (task: Task, event: string, err: unknown) => void
}

/** A synchronous follower of a session (see Session.watch). @internal */
export interface SessionWatcher {
  /** Each event, as it happens. */
  event: (event: TaskEvent) => void
  /** The session is done (closed and every task final): called once, after its last event. */
  done: () => void
}

/** Events a slow `events()` reader may fall behind before the oldest are dropped. */
const EVENT_BUFFER = 10_000

export const SESSION_DEFAULTS: TaskDefaults = { maxRetries: 3, priority: 0 }

/** The id of `owner`'s default session: the one its own submits (and webhooks, schedules) go to. */
export function defaultSessionId (owner: string): string {
  return `${owner}/s-default`
}

/**
 * A group of tasks under default options (ArmoniK's session): submit, run,
 * cancel all, close (no new tasks; `done` resolves once every task is final),
 * list tasks by status, count them, follow their events.
 */
export class Session {
  readonly id: string
  readonly name: string
  readonly defaults: TaskDefaults
  readonly createdAt: number
  /** Resolves once the session is closed (or cancelled) and every task in it is final. */
  readonly done: Promise<void>
  private readonly host: SessionHost
  /** Tasks not final yet. */
  private readonly byId: TaskIndex<Task>
  /** Final tasks whose results are still served, as compact records (see FinishedTask), in the order they ended. */
  private readonly finished: TaskIndex<FinishedTask>
  /** The next task's number in this session (part of its id). */
  private nextSeq = 0
  private readonly counters = emptyCounts()
  private readonly streams = new Set<EventStream<SessionEvent>>()
  private readonly watchers = new Set<SessionWatcher>()
  private open = 0
  private closed = false
  private finish: () => void = () => {}
  /** `<owner>/t-`: a task's id names its owner. */
  private readonly taskIdPrefix: string
  /** The owner's peer id: the submitter of tasks submitted on this node itself. */
  private readonly owner: string
  /** The default session: it takes the node's own submits (node.run, webhooks, schedules), so no caller closes it. */
  private readonly keptOpen: boolean
  /** Who opened it, journaled with it (its budget holds it): the remote peer (tasks protocol) or `api:<subject>` (HTTP API); none for the node's own. */
  readonly opener?: string

  /** `createdAt`: when it was opened, for one restored from the journal (else now). */
  constructor (owner: string, options: SessionOptions, host: SessionHost, id?: string, keptOpen = false, opener?: string, createdAt = Date.now()) {
    // a session given its id is the default one or one restored from the journal: taken as written (an older
    // gridd's values included), so a start never fails on a journal; a new one's options are checked
    if (id == null) checkTaskOptions('session', options)
    this.keptOpen = keptOpen
    this.opener = opener
    this.createdAt = createdAt
    this.id = id ?? `${owner}/s-${randomHex(6)}`
    this.owner = this.id.split('/')[0]!
    this.taskIdPrefix = `${this.owner}/t-`
    this.byId = new TaskIndex(this.taskIdPrefix)
    this.finished = new TaskIndex(this.taskIdPrefix)
    this.name = options.name ?? this.id
    this.defaults = {
      maxRetries: options.maxRetries ?? SESSION_DEFAULTS.maxRetries,
      priority: options.priority ?? SESSION_DEFAULTS.priority,
      timeoutMs: options.timeoutMs
    }
    this.host = host
    this.done = new Promise(resolve => { this.finish = resolve })
  }

  get isClosed (): boolean {
    return this.closed
  }

  /** Queues a task (options override the session's); returns its handle at once. */
  submit (module: string | URL, input?: unknown, options: TaskOptions = {}): Task {
    return this.queue(module, String(module), input, options)
  }

  /**
   * The tasks protocol's submit of a module a member shipped: it runs `stored`, the owner's copy, and shows as
   * `submitted`, the file's path on the submitter's machine (`grid session show` lists what the user gave).
   */
  submitShipped (stored: string, submitted: string, input: unknown, options: TaskOptions): Task {
    return this.queue(stored, submitted, input, options)
  }

  private queue (module: string | URL, shown: string, input: unknown, options: TaskOptions): Task {
    this.host.checkAccepting?.()
    if (this.closed) throw new SessionClosedError(this.name)
    checkModuleArgument(module)
    checkTaskOptions('task', options)
    this.host.checkModule?.(module)
    const nonce = randomHex(8)
    const seq = this.nextSeq++
    const task = new Task({
      id: taskId(this.taskIdPrefix, nonce, seq),
      seq,
      nonce,
      session: this.id,
      module: shown,
      input,
      priority: options.priority ?? this.defaults.priority,
      maxRetries: options.maxRetries ?? this.defaults.maxRetries,
      timeoutMs: options.timeoutMs ?? this.defaults.timeoutMs,
      submitter: options.submitter ?? this.owner
    })
    this.adopt(task)
    try {
      this.host.enqueue(task, module, options)
    } catch (err) {
      // never queued (a module its service cannot place: a file URL naming another host): failed, not left
      // open here for good (the session never done, and a cancel of it threw in a promise nobody awaits)
      task.mark('failed', toWireError(err))
      throw err
    }
    return task
  }

  /** Submits and waits: the task's value, or its error re-thrown (TaskError keeps the remote stack). */
  run (module: string | URL, input?: unknown, options: TaskOptions = {}): Promise<unknown> {
    // not async (one promise less per task), and never throwing synchronously: a closed session rejects
    try {
      return this.submit(module, input, options).result()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Takes in a task made elsewhere (one resumed from the journal). */
  adopt (task: Task): void {
    this.counters[task.status]++
    // one already final (resumed from the journal) is not waited for
    if (task.final) {
      this.finished.set(task.id, new FinishedTask(task))
      return
    }
    this.byId.set(task.id, task)
    this.open++
    task.observe(this.observer)
  }

  /** Its tasks not final yet. */
  openTasks (): Iterable<Task> {
    return this.byId.values()
  }

  /** Closed (or cancelled) and every task final: `done` has resolved. */
  get isDone (): boolean {
    return this.closed && this.open === 0
  }

  /** The task, or a new handle on a final one (its record: see FinishedTask). */
  get (id: string): Task | undefined {
    return this.byId.get(id) ?? this.finished.get(id)?.toTask(id, this.id)
  }

  /** Cancels every task not yet final, and closes the session. */
  cancel (reason = 'session cancelled'): void {
    this.close()
    this.cancelTasks(reason)
  }

  /** Cancels every task not yet final and leaves the session open (how the default session is cancelled). */
  private cancelTasks (reason: string): void {
    // final tasks are no longer here: only open ones are left to cancel
    for (const task of [...this.byId.values()]) task.cancel(reason)
  }

  /** A caller's cancel (over the tasks protocol or the HTTP API): the default session's tasks are cancelled and it stays open. */
  cancelByRequest (reason: string): void {
    if (this.keptOpen) this.cancelTasks(reason)
    else this.cancel(reason)
  }

  /**
   * A caller's close: refused for the default session (closed, every submit of the node's own would
   * fail); then `mayClose` (the caller's right to close it, which throws if not) before it closes.
   */
  closeByRequest (mayClose: () => void = () => {}): void {
    if (this.keptOpen) throw new ConfigError('session', 'the default session stays open; cancel its tasks instead')
    mayClose()
    this.close()
  }

  /** No new tasks; `done` resolves once those submitted are final. */
  close (): void {
    if (!this.closed) {
      this.closed = true
      this.host.closed?.(this)
    }
    this.settleIfDone()
  }

  tasks (filter: { status?: TaskStatus } = {}): TaskInfo[] {
    // a misspelt key ({ state: 'failed' }) would list every task, as if each had that status
    checkKnownKeys('tasks', filter, TASKS_FILTER_KEYS, '')
    // a status no task can have (a typo, a JS caller) would list nothing, as if the session had no such task
    if (filter.status != null && !TASK_STATUSES.includes(filter.status)) throw new ConfigError('status', `must be one of ${TASK_STATUSES.join(', ')}, got ${shown(filter.status)}`)
    const out: TaskInfo[] = []
    for (const [id, record] of this.finished.entries()) if (filter.status == null || record.status === filter.status) out.push(record.toTask(id, this.id).info())
    for (const task of this.byId.values()) if (filter.status == null || task.status === filter.status) out.push(task.info())
    return out
  }

  /** Tasks by status (final tasks dropped after `resultTtlMs` still count), and retries so far. */
  counts (): StatusCounts {
    return { ...this.counters }
  }

  /**
   * Status changes, progress and log lines of every task of the session, until it is done, the reader
   * stops or `signal` aborts. A reader more than 10,000 events behind loses the oldest: a `gap` event
   * (how many were lost) comes in their place.
   */
  events (options: SignalOption = {}): AsyncIterableIterator<SessionEvent> {
    const signal = checkSignalOption('events', options)
    // a reader waiting on a quiet session (the default one is never done) can only stop through its signal
    const onAbort = (): void => { stream.end() }
    const stream = new EventStream<SessionEvent>(EVENT_BUFFER, () => {
      this.streams.delete(stream)
      signal?.removeEventListener('abort', onAbort)
    }, dropped => ({ type: 'gap', dropped }))
    // ended by settleIfDone with the others, not by a reaction on `done` each: the default session is never
    // done, and a live-output hub that re-follows it would leave one behind per call
    if (this.isDone || signal?.aborted === true) stream.end()
    else {
      this.streams.add(stream)
      signal?.addEventListener('abort', onAbort, { once: true })
    }
    return stream
  }

  /**
   * Calls `watcher` synchronously with every event (nothing buffered, so nothing lost, however many come
   * at once: a cancel of 12,000 queued tasks) until the session is done or the returned stop is called.
   * @internal for the HTTP API's live hub, which keeps its own bounded log
   */
  watch (watcher: SessionWatcher): () => void {
    if (this.isDone) {
      watcher.done()
      return () => {}
    }
    this.watchers.add(watcher)
    return () => { this.watchers.delete(watcher) }
  }

  /** Forgets final tasks that ended before `before` (their results are no longer served). */
  forgetFinal (before: number): number {
    return this.finished.deleteWhere(record => record.endedAt < before)
  }

  /** What every task of this session reports to (one object for all of them). */
  private readonly observer: TaskObserver = {
    status: (task, previous) => {
      this.counters[previous]--
      this.counters[task.status]++
      if (isRetry(task, previous)) this.counters.retries++
      this.host.changed?.(task, previous)
      if (this.followed) this.publish(task.statusEvent())
      if (task.final) {
        // from now on a record, not the task: whoever holds the handle keeps it, nobody else does
        this.byId.delete(task.id, task)
        this.finished.set(task.id, new FinishedTask(task))
        this.open--
        this.settleIfDone()
      }
    },
    progress: (task, value) => {
      if (this.followed) this.publish({ type: 'progress', task: task.id, value })
    },
    log: (task, line) => {
      if (this.followed) this.publish({ type: 'log', task: task.id, line })
    },
    cancel: (task, reason) => { this.host.cancel(task, reason) },
    listenerThrew: (task, event, err) => { this.host.listenerThrew?.(task, event, err) }
  }

  private get followed (): boolean {
    return this.streams.size > 0 || this.watchers.size > 0
  }

  private publish (event: TaskEvent): void {
    for (const stream of this.streams) stream.push(event)
    for (const watcher of this.watchers) watcher.event(event)
  }

  private settleIfDone (): void {
    if (!this.isDone) return
    this.finish()
    for (const stream of [...this.streams]) stream.end()
    const watchers = [...this.watchers]
    this.watchers.clear()
    for (const watcher of watchers) watcher.done()
  }
}
