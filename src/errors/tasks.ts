/** Tasks, sessions and their journal. */
import { GridError, causeText } from './base.ts'

export const ERR_TASK_FAILED = 'ERR_TASK_FAILED'
/**
 * A task threw: the remote error's name, message and stack are kept (the stack
 * names the task file and line), and the remote error is the `cause`.
 */
export class TaskError extends GridError {
  readonly taskId: string
  readonly remoteName: string
  readonly remoteStack?: string
  constructor (taskId: string, remote: { name: string, message: string, stack?: string, code?: string }, options?: { cause?: unknown }) {
    super(`task ${taskId} failed: ${remote.name}: ${remote.message}`, ERR_TASK_FAILED, options)
    this.taskId = taskId
    this.remoteName = remote.name
    this.remoteStack = remote.stack
    // the caller sees where it went wrong in the task, then where it was awaited
    if (remote.stack != null) this.stack = `${this.name}: ${this.message}\n  remote: ${remote.stack}\n  local: ${(this.stack ?? '').split('\n').slice(1).join('\n')}`
  }
}

export const ERR_TASK_TIMEOUT = 'ERR_TASK_TIMEOUT'
/** A task attempt ran longer than its `timeoutMs` (its signal was aborted). */
export class TaskTimeoutError extends GridError {
  readonly taskId: string
  constructor (taskId: string, timeoutMs: number) {
    super(`task ${taskId} timed out after ${timeoutMs} ms`, ERR_TASK_TIMEOUT)
    this.taskId = taskId
  }
}

export const ERR_TASK_CANCELLED = 'ERR_TASK_CANCELLED'
/** A task (or its session) was cancelled before it finished. */
export class TaskCancelledError extends GridError {
  readonly taskId: string
  constructor (taskId: string, reason = 'cancelled') {
    super(`task ${taskId} was cancelled: ${reason}`, ERR_TASK_CANCELLED)
    this.taskId = taskId
  }
}

export const ERR_TASK_LOST = 'ERR_TASK_LOST'
/** Every attempt of a task lost its worker or agent (`maxRetries` spent). */
export class TaskLostError extends GridError {
  readonly taskId: string
  /** `options.said`: the text of the failure as the task recorded it (its own, rebuilt): not said again around it. */
  constructor (taskId: string, attempts: number, options?: { cause?: unknown, said?: string }) {
    super(options?.said ?? `task ${taskId}: its worker or agent was lost ${attempts === 1 ? 'on its only attempt' : `on each of ${attempts} attempts`}${causeText(options?.cause)}`, ERR_TASK_LOST, options)
    this.taskId = taskId
  }
}

export const ERR_SESSION_CLOSED = 'ERR_SESSION_CLOSED'
/** A task submitted to a session that was closed or cancelled. */
export class SessionClosedError extends GridError {
  constructor (session: string) {
    super(`session ${session} is closed: it takes no new tasks`, ERR_SESSION_CLOSED)
  }
}


export const ERR_TASK_NOT_FOUND = 'ERR_TASK_NOT_FOUND'
/** No task or session of that id on its owner (never there, or forgotten after `resultTtlMs`). */
export class TaskNotFoundError extends GridError {
  readonly id: string
  constructor (id: string, what: 'task' | 'session' = 'task') {
    super(what === 'task'
      ? `no task ${id} on its owner (never submitted there, or forgotten: its result expired or its session is done)`
      : `no session ${id} on its owner (never opened there, or forgotten once closed and done)`, ERR_TASK_NOT_FOUND)
    this.id = id
  }
}

export const ERR_TASK_NOT_REGISTERED = 'ERR_TASK_NOT_REGISTERED'
/** A task asked for by a name the node has not registered (`node.tasks.register`, `grid node --task`). */
export class TaskNotRegisteredError extends GridError {
  constructor (name: string, registered: string[]) {
    super(`no task registered as "${name}" on this node${registered.length === 0 ? ' (it registers none)' : ` (it registers ${registered.slice(0, 20).join(', ')})`}`, ERR_TASK_NOT_REGISTERED)
  }
}

export const ERR_TASK_LIMIT = 'ERR_TASK_LIMIT'
/** A bound of the remote task service was reached (shipped-module quota, remotely opened sessions). */
export class TaskLimitError extends GridError {
  constructor (message: string) {
    super(message, ERR_TASK_LIMIT, { retryable: true })
  }
}

export const ERR_SCHEDULE_LIMIT = 'ERR_SCHEDULE_LIMIT'
/** The grid holds as many schedules as it may (in all, or of this maker): delete some first. Not retryable: schedules do not end by themselves. */
export class ScheduleLimitError extends GridError {
  constructor (message: string) {
    super(message, ERR_SCHEDULE_LIMIT)
  }
}

export const ERR_NOT_SYNCED = 'ERR_NOT_SYNCED'
/**
 * A change a node cannot check on what it holds yet: its copy of the grid's channel (the schedules', the deployments') has not
 * synced with any member (one just started, its seeds not reached). Retryable: it syncs once it joins.
 */
export class NotSyncedError extends GridError {
  constructor (channel: string, what: string) {
    super(`cannot ${what} yet: this node's copy of channel ${JSON.stringify(channel)} has not synced with the grid (no member reached since it started); try again shortly`, ERR_NOT_SYNCED, { retryable: true })
  }
}

export const ERR_RESULT_TOO_LARGE = 'ERR_RESULT_TOO_LARGE'
/** A task's result is larger, as JSON, than `tasks.maxResultBytes`: the task fails rather than keep (and journal) it. */
export class ResultTooLargeError extends GridError {
  readonly taskId: string
  constructor (taskId: string, detail: string, options?: { cause?: unknown }) {
    super(`task ${taskId}: ${detail}`, ERR_RESULT_TOO_LARGE, options)
    this.taskId = taskId
  }
}

export const ERR_JOURNAL = 'ERR_JOURNAL'
/** The task journal (`tasks.sqlite` in the data dir) cannot be opened or read: the node does not start rather than lose its tasks. */
export class JournalError extends GridError {
  readonly path: string
  constructor (path: string, detail: string, options?: { cause?: unknown, advice?: string }) {
    super(`task journal ${path}: ${detail}${causeText(options?.cause)}; ${options?.advice ?? 'move it aside to start without it (or, embedding GridNode, pass tasks: { durable: false })'}`, ERR_JOURNAL, options)
    this.path = path
  }
}
