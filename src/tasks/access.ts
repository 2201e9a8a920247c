import type { Role } from '../trust/roles.ts'
import { describeRoles } from '../trust/roles.ts'
import { ForbiddenError } from '../errors.ts'
import type { TasksRequest } from './protocol-schema.ts'

/** Who asks: the peer whose certificate the owner (or the relaying member) verified, and its roles. */
export interface Caller {
  peer: string
  roles: ReadonlySet<Role>
}

/** Roles that may act on any task and session of the grid (DESIGN §11: members own sessions; admins may do anything). */
const OPERATORS: readonly Role[] = ['member', 'admin']

/** Members and admins: they see every task (a client, only its own). */
export function isOperator (caller: Caller): boolean {
  return OPERATORS.some(role => caller.roles.has(role))
}

function refuse (caller: Caller, what: string): ForbiddenError {
  return new ForbiddenError(`peer ${caller.peer} (roles ${describeRoles(caller.roles)}) may not ${what}`)
}

/**
 * The tasks protocol's rules, checked per request (the guard admitted client,
 * member and admin): shipping code needs the member role, a client runs only
 * registered names; a client reads and cancels only the tasks it submitted
 * (results are its data), members and admins any; opening, closing and
 * cancelling sessions is for members and admins; a client lists and submits
 * into only the default session and those it opened (sessionVisible: another's,
 * an HTTP API client's private one, is as missing), while members and admins
 * list all (with counts, like `grid status`); a session's tasks a client is
 * shown are only its own (their modules, errors and progress are its data, as
 * over the HTTP API).
 */
export function checkRequest (caller: Caller, request: TasksRequest): void {
  switch (request.op) {
    case 'submit':
      if (request.module.kind === 'source' && !caller.roles.has('member')) throw refuse(caller, 'ship task code: it needs the member role; a client runs only tasks registered by name')
      return
    case 'session-open':
    case 'session-close':
    case 'session-cancel':
      if (!isOperator(caller)) throw refuse(caller, `${request.op.replace('-', ' ')}: it needs the member or admin role`)
      return
    default:
  }
}

/** For get, wait and cancel: a client only on its own tasks. */
export function checkTaskAccess (caller: Caller, submitter: string | undefined, op: string): void {
  if (isOperator(caller) || (submitter != null && submitter === caller.peer)) return
  throw refuse(caller, `${op} a task it did not submit: it needs the member or admin role`)
}

/**
 * Whether `caller` may list a session and submit into it: members and admins any; anyone else the owner's
 * default session and those it opened. Else it is answered as missing (ERR_TASK_NOT_FOUND), so another's
 * session, such as an HTTP API client's private one (opener `api:<subject>`), cannot be probed or joined.
 */
export function sessionVisible (caller: Caller, session: { opener?: string }, isDefault: boolean): boolean {
  return isOperator(caller) || isDefault || (session.opener != null && session.opener === caller.peer)
}
