import type { Task } from '../tasks/task.ts'
import type { TaskInfo, TaskOptions } from '../tasks/types.ts'
import type { ApiContext } from './api-context.ts'
import { findSession } from './lookup.ts'
import { NotFoundError } from '../errors.ts'
import { inputBytes, releasedAtEnd } from '../tasks/submit-budget.ts'

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
  const task = releasedAtEnd(api.budgets.tasks.take(subject, inputBytes(request.input)), () => request.session == null
    ? tasks.submit(module, request.input, options)
    : findSession(tasks, api.node.peerId, request.session).submit(module, request.input, options))
  api.live.task(task)
  api.submitters.record(task.id, subject, task.settled)
  return task
}

/** A task as the API shows it: its info, and its value once completed. */
export function taskView (task: Task): TaskInfo & { value?: unknown } {
  const info = task.info()
  return task.status === 'completed' ? { ...info, value: task.value ?? null } : info
}
