import type { WireError } from '../wire/wire-error.ts'

/**
 * A task's life (DESIGN §12): `queued` (waiting for a worker slot) →
 * `dispatched` (sent to a worker) → `running` (the worker started it) → one of
 * the final states. A worker or agent lost under it sends it back to `queued`
 * (a retry, counted) until `maxRetries` is spent.
 */
export const TASK_STATUSES = ['queued', 'dispatched', 'running', 'completed', 'failed', 'timeout', 'cancelled'] as const
export type TaskStatus = typeof TASK_STATUSES[number]

export const FINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'timeout', 'cancelled'])

export function isFinal (status: TaskStatus): boolean {
  return FINAL_STATUSES.has(status)
}

/** What a session gives its tasks unless a task says otherwise. */
export interface TaskDefaults {
  /** Times a task is tried again after its worker or agent was lost (not after it threw). Default 3. */
  maxRetries: number
  /** Longest one attempt may run, from dispatch; then `timeout` (the task's signal aborts). Default: none. */
  timeoutMs?: number
  /** Higher runs first (FIFO within a priority). Default 0. */
  priority: number
}

export interface TaskOptions extends Partial<TaskDefaults> {
  /** Resources of the workers that run this module (placed like stages). Default 1 CPU slot. */
  resources?: { cpu?: number, memoryMb?: number }
  /** Aborting it cancels the task. */
  signal?: AbortSignal
  /** Peer id of whoever submitted it (the tasks protocol sets the remote caller's; the HTTP API `api:<subject>`); default: the owner. */
  submitter?: string
}

export interface SessionOptions extends Partial<TaskDefaults> {
  name?: string
}

/** A task as its owner reports it (`tasks()`, `grid task get`). */
export interface TaskInfo {
  id: string
  session: string
  /**
   * The module as submitted: a path on the owner, a registered task name, or for a module a member
   * shipped (`grid task submit FILE`), the file's path on the submitter's machine.
   */
  module: string
  /** The file the owner runs, when that is not `module` as it stands: a shipped module's stored copy (`<data-dir>/tasks/modules/…`), a registered name's file, a relative path resolved. */
  path?: string
  status: TaskStatus
  priority: number
  /** Attempts started so far (a retry is a second attempt); it never goes down, though an attempt its agent stopped uses none of `maxRetries`. */
  attempts: number
  /** Peer id of whoever submitted it (the owner itself for its own calls; `api:<subject>` through the HTTP API). */
  submitter?: string
  /** Peer id of the agent running (or that last ran) it. */
  agent?: string
  /** The last value the task passed to `ctx.progress` (while it runs, and after). */
  progress?: unknown
  submittedAt: number
  startedAt?: number
  endedAt?: number
  /** Why it failed, timed out or was cancelled. */
  error?: WireError
}

/** What `events()` yields and TaskHandle emits. */
export type TaskEvent =
  | { type: 'status', task: string, status: TaskStatus, attempts: number }
  | { type: 'progress', task: string, value: unknown }
  | { type: 'log', task: string, line: string }

/** What a session's `events()` yields: its tasks' events, and `gap` where a reader that fell behind lost `dropped` of them. */
export type SessionEvent = TaskEvent | { type: 'gap', dropped: number }

export type StatusCounts = Record<TaskStatus, number> & { retries: number }

export function emptyCounts (): StatusCounts {
  return { queued: 0, dispatched: 0, running: 0, completed: 0, failed: 0, timeout: 0, cancelled: 0, retries: 0 }
}
