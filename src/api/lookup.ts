import type { AddonTasks } from '../addons/host.ts'
import type { Task } from '../tasks/task.ts'
import type { Session } from '../tasks/session.ts'
import { NotFoundError } from '../errors.ts'

/** The peer id an id names as its owner (`<peer id>/t-...`, `<peer id>/s-...`). */
export function ownerOf (id: string): string {
  return id.split('/')[0] ?? ''
}

/** A task of this node, or 404: naming its owner when the id was made by another node (ask that node's API). */
export function findTask (tasks: AddonTasks, self: string, id: string): Task {
  const task = tasks.getTask(id)
  if (task != null) return task
  throw notHere('task', self, id)
}

export function findSession (tasks: AddonTasks, self: string, id: string): Session {
  const session = tasks.getSession(id)
  if (session != null) return session
  throw notHere('session', self, id)
}

/** The 404 for an id this node does not hold (or does not show this caller: the same answer). */
export function notHere (what: string, self: string, id: string): NotFoundError {
  const owner = ownerOf(id)
  if (owner !== '' && owner !== self && /^[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(owner)) {
    return new NotFoundError(`${what} ${id} is owned by node ${owner}: ask that node's API (this one serves only its own ${what}s)`, { owner })
  }
  return new NotFoundError(`no ${what} ${id} on this node (never made here, or finished long enough ago to be forgotten)`)
}
