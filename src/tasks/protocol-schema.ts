import * as v from 'valibot'
import { peerId, taskPriority, taskRetries, taskTimeoutMs } from '../checks/values.ts'
import { wireErrorSchema } from '../wire/wire-error.ts'
import { MAX_MODULE_BYTES } from '../wire/module-ref.ts'
import { ROLES } from '../trust/roles.ts'
import { TASK_STATUSES } from './types.ts'

/** Tasks and sessions from anywhere (DESIGN §12): `grid task …`, `grid session …`, and members relaying to an owner. */
export const TASKS_PROTOCOL = '/gridd/tasks/1.0.0'

/** A request carries at most one shipped module and its input. */
export const MAX_REQUEST_BYTES = MAX_MODULE_BYTES + 4 * 1024 * 1024
/** A reply carries a result (or a bounded task list). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024
/** Longest one `wait` request holds its stream; a caller waits longer by asking again. */
export const MAX_WAIT_MS = 60_000
/** Tasks one `session-show` lists at most. */
export const MAX_LIST = 10_000
export const DEFAULT_LIST = 1000

const PEER = '[1-9A-HJ-NP-Za-km-z]{1,128}'
/** `<owner peer id>/t-<hex>`: the owner is in the id, so any member routes a query to it. */
export const TASK_ID = new RegExp(`^${PEER}/t-[0-9a-z-]{1,64}$`)
export const SESSION_ID = new RegExp(`^${PEER}/s-[0-9a-z-]{1,64}$`)
export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

const ID_RULE = 'must be an id <owner peer id>/t-… (task) or /s-… (session)'
export const taskId = v.pipe(v.string(ID_RULE), v.regex(TASK_ID, ID_RULE))
export const sessionId = v.pipe(v.string(ID_RULE), v.regex(SESSION_ID, ID_RULE))
const taskName = v.pipe(v.string(), v.regex(TASK_NAME, 'a task name is 1-64 letters, digits, \'.\', \'_\' or \'-\''))

/** Task options as the wire carries them (the CLI's flags pass the same pieces). */
const optionFields = { priority: v.optional(taskPriority), maxRetries: v.optional(taskRetries), timeoutMs: v.optional(taskTimeoutMs) }

/** A task module: a name registered on the node, or a bundle shipped by a member (readModule's output). */
export const moduleSpec = v.variant('kind', [
  v.object({ kind: v.literal('name'), name: taskName }),
  v.object({
    kind: v.literal('source'),
    /** The entry's path on the submitter's machine (for messages only). */
    path: v.pipe(v.string(), v.maxLength(4096)),
    sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
    source: v.pipe(v.string(), v.maxLength(MAX_MODULE_BYTES))
  })
])

/**
 * Set by a member that forwards a request to the id's owner: the caller it
 * verified (certificate and roles). The owner accepts it only from a member,
 * and never forwards a relayed request again (no loops).
 */
const relay = v.optional(v.object({ caller: peerId, roles: v.pipe(v.array(v.picklist(ROLES)), v.maxLength(ROLES.length)) }))

export const tasksRequestSchema = v.variant('op', [
  v.object({ op: v.literal('submit'), module: moduleSpec, input: v.optional(v.unknown()), session: v.optional(sessionId), ...optionFields, relay }),
  v.object({ op: v.literal('get'), id: taskId, relay }),
  v.object({ op: v.literal('wait'), id: taskId, timeoutMs: v.optional(v.pipe(taskTimeoutMs, v.maxValue(MAX_WAIT_MS))), relay }),
  v.object({ op: v.literal('cancel'), id: taskId, reason: v.optional(v.pipe(v.string(), v.maxLength(256))), relay }),
  v.object({ op: v.literal('session-open'), name: v.optional(taskName), ...optionFields }),
  v.object({ op: v.literal('session-list') }),
  v.object({ op: v.literal('session-show'), id: sessionId, status: v.optional(v.picklist(TASK_STATUSES)), limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_LIST))), relay }),
  v.object({ op: v.literal('session-close'), id: sessionId, relay }),
  v.object({ op: v.literal('session-cancel'), id: sessionId, relay })
])

export type TasksRequest = v.InferOutput<typeof tasksRequestSchema>
export type ModuleSpec = v.InferOutput<typeof moduleSpec>

const count = v.pipe(v.number(), v.integer(), v.minValue(0))
const time = v.optional(v.number())
const text = (max: number) => v.pipe(v.string(), v.maxLength(max))

export const taskInfoSchema = v.object({
  id: taskId,
  session: sessionId,
  module: text(4096),
  path: v.optional(text(4096)),
  status: v.picklist(TASK_STATUSES),
  priority: v.number(),
  attempts: count,
  submitter: v.optional(text(128)),
  agent: v.optional(text(128)),
  progress: v.optional(v.unknown()),
  submittedAt: v.number(),
  startedAt: time,
  endedAt: time,
  error: v.optional(wireErrorSchema)
})

export const countsSchema = v.object({
  queued: count, dispatched: count, running: count, completed: count, failed: count, timeout: count, cancelled: count, retries: count
})

export const sessionSummarySchema = v.object({
  id: sessionId,
  name: text(256),
  closed: v.boolean(),
  createdAt: v.number(),
  counts: countsSchema
})

export type SessionSummary = v.InferOutput<typeof sessionSummarySchema>

/** One reply shape for every op: each fills the fields it answers with. */
export const tasksReplySchema = v.variant('ok', [
  v.object({
    ok: v.literal(true),
    /** submit, session-open: the new id. */
    id: v.optional(v.string()),
    /** get, wait, cancel: the task now, and its value once completed. */
    task: v.optional(taskInfoSchema),
    value: v.optional(v.unknown()),
    /** session-list, session-show. */
    sessions: v.optional(v.pipe(v.array(sessionSummarySchema), v.maxLength(MAX_LIST))),
    session: v.optional(sessionSummarySchema),
    tasks: v.optional(v.pipe(v.array(taskInfoSchema), v.maxLength(MAX_LIST))),
    /** session-cancel: tasks that were not final yet. */
    cancelled: v.optional(count)
  }),
  v.object({ ok: v.literal(false), error: wireErrorSchema })
])

export type TasksReply = v.InferOutput<typeof tasksReplySchema>
export type TasksAnswer = Extract<TasksReply, { ok: true }>
