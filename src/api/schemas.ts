/**
 * JSON schemas of the API's bodies and answers: Fastify validates requests
 * with them (Ajv) and serializes answers with them (fast-json-stringify, which
 * also drops any property not listed), and @fastify/swagger publishes them.
 */
import { TASK_STATUSES } from '../tasks/types.ts'

const id = { type: 'string', minLength: 1, maxLength: 200 } as const
const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const
const millis = { type: 'integer', minimum: 1, maximum: 2_147_483_647 } as const

/** A task's error as the API shows it: no stack (it names paths on the worker's machine). */
export const errorSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, message: { type: 'string' }, code: { type: 'string' } },
  required: ['name', 'message']
} as const

export const taskSchema = {
  $id: 'Task',
  type: 'object',
  properties: {
    id: { type: 'string' },
    session: { type: 'string' },
    module: { type: 'string' },
    status: { type: 'string', enum: TASK_STATUSES },
    priority: { type: 'number' },
    attempts: { type: 'integer' },
    agent: { type: 'string' },
    submittedAt: { type: 'number' },
    startedAt: { type: 'number' },
    endedAt: { type: 'number' },
    error: errorSchema,
    /** Present once completed (until the node forgets the result). */
    value: {}
  },
  required: ['id', 'session', 'module', 'status', 'attempts', 'submittedAt']
} as const

export const countsSchema = {
  type: 'object',
  properties: Object.fromEntries([...TASK_STATUSES, 'retries'].map(s => [s, { type: 'integer' }])),
  required: [...TASK_STATUSES, 'retries']
} as const

export const sessionSchema = {
  $id: 'Session',
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    closed: { type: 'boolean' },
    createdAt: { type: 'number' },
    defaults: { type: 'object', properties: { maxRetries: { type: 'integer' }, priority: { type: 'number' }, timeoutMs: { type: 'integer' } } },
    counts: countsSchema
  },
  required: ['id', 'name', 'closed', 'createdAt', 'counts']
} as const

export const submitBodySchema = {
  type: 'object',
  properties: {
    /** A task name registered on this node (scope tasks:submit). */
    task: name,
    /** An absolute module path on this node (scope tasks:module). */
    module: { type: 'string', minLength: 2, maxLength: 4096, pattern: '^/' },
    input: {},
    /** A session of this node; default: the node's default session. */
    session: id,
    priority: { type: 'integer', minimum: -1e6, maximum: 1e6 },
    timeoutMs: millis,
    maxRetries: { type: 'integer', minimum: 0, maximum: 100 }
  },
  oneOf: [{ required: ['task'] }, { required: ['module'] }],
  additionalProperties: false
} as const

export const sessionBodySchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    priority: { type: 'integer', minimum: -1e6, maximum: 1e6 },
    timeoutMs: millis,
    maxRetries: { type: 'integer', minimum: 0, maximum: 100 }
  },
  additionalProperties: false
} as const

export const idParams = { type: 'object', properties: { id }, required: ['id'] } as const

/** `?wait=1`: answer once the task is final. */
export const waitQuery = { type: 'object', properties: { wait: { type: 'string', enum: ['1', '0', 'true', 'false'] } } } as const

export function wantsWait (query: { wait?: string }): boolean {
  return query.wait === '1' || query.wait === 'true'
}

/** The answer of `?wait=1` (and of a waiting webhook): the final task with its value or error. */
export const outcomeSchema = taskSchema

export const acceptedSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, session: { type: 'string' }, status: { type: 'string' } },
  required: ['id', 'status']
} as const

export const memberSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    self: { type: 'boolean' },
    role: { type: 'string' },
    state: { type: 'string' },
    addresses: { type: 'array', items: { type: 'string' } },
    weight: { type: 'number' },
    cpu: { type: 'number' },
    workers: { type: 'integer' },
    maxWorkers: { type: 'integer' },
    lastSeenMs: { type: 'number' }
  },
  required: ['id', 'self', 'state']
} as const

/** Problem responses every authenticated route may give. */
export const problemResponses = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  429: { $ref: 'Problem#' }
} as const
