import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { GridError, NotFoundError, RateLimitedError } from '../errors.ts'

/** An RFC 9457 problem detail, with the gridd error code (match on `code`). */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  /** The node that owns a task or session id made elsewhere. */
  owner?: string
}

const STATUS_BY_CODE: Record<string, number> = {
  ERR_CONFIG: 400,
  ERR_VALIDATION: 400,
  ERR_MODULE_MISSING: 400,
  ERR_NOT_SERIALIZABLE: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_HOOK_SIGNATURE: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_SESSION_CLOSED: 409,
  ERR_SCHEDULE_LIMIT: 409,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_TASK_LIMIT: 429,
  ERR_NODE_STOPPED: 503,
  ERR_NOT_SYNCED: 503,
  ERR_NO_CAPACITY: 503,
  ERR_TOO_MANY_STREAMS: 503
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_VALIDATION',
  FST_ERR_BAD_URL: 'ERR_VALIDATION',
  FST_ERR_MAX_PARAM_LENGTH: 'ERR_VALIDATION'
}

/** The problem for any error a route throws: gridd errors by code, Fastify's by kind, anything else a 500 that says nothing of its insides. */
export function problemOf (err: unknown): Problem {
  if (err instanceof GridError) {
    const status = STATUS_BY_CODE[err.code] ?? 500
    return { ...problem(status, err.code, err.message), ...(err instanceof NotFoundError && err.owner != null ? { owner: err.owner } : {}) }
  }
  const fastify = err as Partial<FastifyError>
  if (fastify.validation != null) return problem(400, 'ERR_VALIDATION', fastify.message ?? 'invalid request')
  const code = fastify.code == null ? undefined : FASTIFY_CODES[fastify.code]
  if (code != null) return problem(STATUS_BY_CODE[code] ?? 400, code, fastify.message ?? code)
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) return problem(fastify.statusCode, 'ERR_BAD_REQUEST', fastify.message ?? 'bad request')
  return problem(500, 'ERR_INTERNAL', 'the API failed to answer; the node logged why')
}

export function problem (status: number, code: string, detail: string): Problem {
  return { type: `urn:gridd:error:${code}`, title: code.slice(4).toLowerCase().replaceAll('_', ' '), status, detail, code }
}

/** Sends a problem as `application/problem+json` (a 429 with Retry-After). */
export function sendProblem (reply: FastifyReply, body: Problem, err?: unknown): FastifyReply {
  if (err instanceof RateLimitedError) void reply.header('retry-after', String(Math.ceil(err.retryAfterMs / 1000)))
  return reply.code(body.status).type('application/problem+json').send(JSON.stringify(body))
}

/** Fastify's error handler: every error as a problem; 500s logged with the error, never shown. */
export function problemHandler (err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body = problemOf(err)
  if (body.status >= 500 && body.code === 'ERR_INTERNAL') request.log.error({ err, url: request.url }, 'API request failed')
  return sendProblem(reply, body, err)
}

/** The JSON schema of a problem, for the OpenAPI document. */
export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    owner: { type: 'string' }
  },
  required: ['type', 'title', 'status', 'detail', 'code']
} as const
