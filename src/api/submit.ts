import type { Task } from '../tasks/task.ts'
import type { TaskInfo, TaskOptions } from '../tasks/types.ts'
import type { ApiContext } from './api-context.ts'
import { findSession } from './lookup.ts'
import { NotFoundError } from '../errors.ts'

export interface SubmitRequest {
  /** A registered task name, or (for tasks:module) an absolute module path. */
  task?: string
  module?: string
  input?: unknown
  session?: string
  priority?: number
  timeoutMs?: number
  maxRetries?: number
}

/**
 * Submits through the API: a registered name must be registered here (an
 * unknown name must not fall through to a path); the task is followed live
 * from its first status, and recorded as `subject`'s.
 */
export function submitTask (api: ApiContext, request: SubmitRequest, subject: string): Task {
  const tasks = api.node.tasks
  if (request.task != null && tasks.registeredModule(request.task) == null) throw new NotFoundError(`no task registered as ${JSON.stringify(request.task)} on this node`)
  const module = request.task ?? request.module!
  const options: TaskOptions = { priority: request.priority, timeoutMs: request.timeoutMs, maxRetries: request.maxRetries }
  // bounded per subject, as over the tasks protocol: a token submitting in a loop with no agent free would fill the node
  const release = api.budgets.tasks.take(subject, Buffer.byteLength(JSON.stringify(request.input ?? null)))
  let task: Task
  try {
    task = request.session == null
      ? tasks.submit(module, request.input, options)
      : findSession(tasks, api.node.peerId, request.session).submit(module, request.input, options)
  } catch (err) {
    release()
    throw err
  }
  void task.settled.then(release)
  api.live.task(task)
  api.submitters.record(task.id, subject, task.settled)
  return task
}

/** A task as the API shows it: its info, and its value once completed. */
export function taskView (task: Task): TaskInfo & { value?: unknown } {
  const info = task.info()
  return task.status === 'completed' ? { ...info, value: task.value ?? null } : info
}

/** Resolves once `task` is final or `signal` aborts (the client went away: the task goes on). */
export async function settledOrAborted (task: Task, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const done = (): void => { signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
    void task.settled.then(done)
  })
}
