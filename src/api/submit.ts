import type { Task } from '../tasks/task.ts'
import type { TaskInfo, TaskOptions } from '../tasks/types.ts'
import type { ApiContext } from './api-context.ts'
import { NotFoundError } from '../errors.ts'
import { inputBytes, releasedAtEnd } from '../tasks/submit-budget.ts'
import type { Principal } from './auth/scopes.ts'
import { apiSubmitter, visibleSession } from './ownership.ts'
import { defaultSessionId } from '../tasks/session.ts'

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
 * from its first status, and recorded as `principal`'s (its submitter), who
 * alone (with members and admins) reads it. A session named must be one
 * `principal` may see (or the default one): a client's tasks never land in
 * another's session, whose stream would carry them.
 */
export function submitTask (api: ApiContext, request: SubmitRequest, principal: Principal): Task {
  const tasks = api.node.tasks
  if (request.task != null && tasks.registeredModule(request.task) == null) throw new NotFoundError(`no task registered as ${JSON.stringify(request.task)} on this node`)
  const module = request.task ?? request.module!
  const submitter = apiSubmitter(principal.subject)
  const options: TaskOptions = { priority: request.priority, timeoutMs: request.timeoutMs, maxRetries: request.maxRetries, submitter }
  const session = request.session == null || request.session === defaultSessionId(api.node.peerId) ? undefined : visibleSession(api, principal, request.session)
  // bounded per subject (kept under its submitter, as resumed ones are: resumed.ts), as over the tasks protocol:
  // a token submitting in a loop with no agent free would fill the node
  const task = releasedAtEnd(api.budgets.tasks.take(submitter, inputBytes(request.input)), () => session == null
    ? tasks.submit(module, request.input, options)
    : session.submit(module, request.input, options))
  api.live.trackTask(task)
  return task
}

/** A task as the API shows it: its info, and its value once completed. */
export function taskView (task: Task): TaskInfo & { value?: unknown } {
  const info = task.info()
  return task.status === 'completed' ? { ...info, value: task.value ?? null } : info
}
