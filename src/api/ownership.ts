import { createHash } from 'node:crypto'
import type { ApiContext } from './api-context.ts'
import type { Principal } from './auth/scopes.ts'
import { hasScope } from './auth/scopes.ts'
import { findSession, findTask, notHere } from './lookup.ts'
import type { Task } from '../tasks/task.ts'
import type { Session } from '../tasks/session.ts'
import { ForbiddenError } from '../errors.ts'
import { API_SUBMITTER_PREFIX } from '../tasks/submitter.ts'

/** A task's submitter travels in task infos of at most 128 characters (protocol-schema.ts). */
const MAX_SUBJECT_CHARS = 120

/**
 * What a task submitted (and a session opened) through the API records as its
 * submitter (opener): the caller's subject, set apart from the peer ids the
 * tasks protocol records (a token's `sub` is any text, a peer id's too), so
 * neither reads the other's tasks; a longer subject than a task info carries,
 * by its SHA-256. Journaled with the task (session), it outlives a restart;
 * the API's budgets are kept under it too, so what was resumed lands on the
 * same key as what comes next.
 */
export function apiSubmitter (subject: string): string {
  return `${API_SUBMITTER_PREFIX}${subject.length <= MAX_SUBJECT_CHARS ? subject : `sha256:${createHash('sha256').update(subject).digest('hex')}`}`
}

/**
 * Members and admins read every task and session of the node, as over the
 * tasks protocol (DESIGN §11); a client only what it submitted (results are its
 * data). A member's scopes hold `tasks:module`, an admin's `admin`.
 */
export function readsAll (principal: Principal): boolean {
  return hasScope(principal, 'admin') || principal.scopes.has('tasks:module')
}

/** A task of this node that `principal` may see; one it may not is a 404 like one that does not exist, so ids cannot be probed. */
export function visibleTask (api: ApiContext, principal: Principal, id: string): Task {
  const task = findTask(api.node.tasks, api.node.peerId, id)
  if (readsAll(principal) || task.submitter === apiSubmitter(principal.subject)) return task
  throw notHere('task', api.node.peerId, id)
}

/**
 * A session of this node that `principal` may see: one it opened (its journaled opener, so after a restart
 * too), or any for members and admins; else 404. The default session holds everyone's tasks: members and admins only.
 */
export function visibleSession (api: ApiContext, principal: Principal, id: string): Session {
  const session = findSession(api.node.tasks, api.node.peerId, id)
  if (readsAll(principal) || opened(principal, session)) return session
  throw notHere('session', api.node.peerId, id)
}

/** Whether `principal` opened `session` through the API. */
export function opened (principal: Principal, session: Session): boolean {
  return session.opener === apiSubmitter(principal.subject)
}

/** Closing or cancelling a session (`action`): its opener or an admin (a member sees every session, but ends them only through the tasks protocol). */
export function checkMayEndSession (principal: Principal, session: Session, action: 'close' | 'cancel'): void {
  if (hasScope(principal, 'admin') || opened(principal, session)) return
  throw new ForbiddenError(`${session.id} was not opened by ${principal.subject}: only its opener or an admin may ${action} it`)
}

/** Cancelling a task still running: its submitter or an admin (a member sees every task, but cancels only through the tasks protocol). */
export function checkMayCancelTask (principal: Principal, task: Task): void {
  if (task.final || hasScope(principal, 'admin') || task.submitter === apiSubmitter(principal.subject)) return
  throw new ForbiddenError(`${task.id} was not submitted by ${principal.subject}: only its submitter or an admin may cancel it`)
}
