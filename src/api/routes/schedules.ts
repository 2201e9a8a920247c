import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ApiContext } from '../api-context.ts'
import { problemResponses } from '../schemas.ts'
import { hasScope } from '../auth/scopes.ts'
import type { ScheduleCaller } from '../../schedules/service.ts'
import { OVERLAPS, MIN_EVERY_MS } from '../../schedules/types.ts'

const scheduleId = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const
const idParams = { type: 'object', properties: { id: scheduleId }, required: ['id'] } as const

const specFields = {
  id: scheduleId,
  cron: { type: 'string', minLength: 1, maxLength: 200, description: 'five fields, or six with seconds first (croner)' },
  everyMs: { type: 'integer', minimum: MIN_EVERY_MS, maximum: 366 * 24 * 3600_000 },
  timezone: { type: 'string', minLength: 1, maxLength: 64, description: 'IANA time zone of cron; default UTC' },
  task: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'a task name registered on the API nodes' },
  input: {},
  overlap: { type: 'string', enum: OVERLAPS, description: 'while the previous run goes on: skip the tick (default), buffer-one, or allow' },
  catchup: { type: 'boolean', description: 'fire ticks missed while no API node could (bounded); default false' },
  paused: { type: 'boolean' },
  envelope: { type: 'boolean', description: 'the task gets { input, scheduledAt, schedule } instead of input' }
} as const

export const scheduleBodySchema = {
  type: 'object',
  properties: specFields,
  required: ['id', 'task'],
  oneOf: [{ required: ['cron'] }, { required: ['everyMs'] }],
  additionalProperties: false
} as const

export const scheduleSchema = {
  $id: 'Schedule',
  type: 'object',
  properties: {
    ...specFields,
    owner: { type: 'string' },
    createdAt: { type: 'number' },
    since: { type: 'number' },
    nextRunAt: { type: 'number', description: 'the next tick (ms since the epoch); absent while paused' },
    firer: { type: 'string', description: 'the API node elected to fire it, as this node sees the grid' },
    lastTickAt: { type: 'number', description: 'the latest tick fired' }
  },
  required: ['id', 'task', 'timezone', 'overlap', 'catchup', 'paused', 'owner', 'createdAt']
} as const

/** `POST/GET /v1/schedules`, `GET/DELETE /v1/schedules/:id`, `POST /v1/schedules/:id/pause|resume`. */
export function scheduleRoutes (app: FastifyInstance, api: ApiContext): void {
  const schedules = api.schedules
  app.addSchema(scheduleSchema)
  const one = { 200: { $ref: 'Schedule#' }, ...problemResponses } as const

  app.post<{ Body: unknown }>('/v1/schedules', {
    config: { scope: 'tasks:submit' },
    schema: { summary: 'Create (or replace, by id) a schedule of a registered task: cron or everyMs', tags: ['schedules'], body: scheduleBodySchema, response: { 201: { $ref: 'Schedule#' }, ...problemResponses } }
  }, async (request, reply) => {
    const view = schedules.create(request.body, callerOf(request))
    return await reply.code(201).header('location', `/v1/schedules/${view.id}`).send(view)
  })

  app.get('/v1/schedules', {
    config: { scope: 'tasks:read' },
    schema: { summary: 'Every schedule of the grid, with its next run and its firer', tags: ['schedules'], response: { 200: { type: 'array', items: { $ref: 'Schedule#' } }, ...problemResponses } }
  }, async () => schedules.list())

  app.get<{ Params: { id: string } }>('/v1/schedules/:id', {
    config: { scope: 'tasks:read' },
    schema: { summary: 'A schedule, with its next run and its firer', tags: ['schedules'], params: idParams, response: one }
  }, async (request) => schedules.get(request.params.id))

  app.delete<{ Params: { id: string } }>('/v1/schedules/:id', {
    config: { scope: 'tasks:submit' },
    schema: { summary: 'Delete a schedule (its maker, or admin); runs already started go on', tags: ['schedules'], params: idParams, response: one }
  }, async (request) => schedules.remove(request.params.id, callerOf(request)))

  for (const action of ['pause', 'resume'] as const) {
    app.post<{ Params: { id: string } }>(`/v1/schedules/:id/${action}`, {
      config: { scope: 'tasks:submit' },
      schema: { summary: action === 'pause' ? 'Pause a schedule: no tick fires until resumed' : 'Resume a schedule: ticks from now on (the pause is not backfilled)', tags: ['schedules'], params: idParams, response: one }
    }, async (request) => schedules.setPaused(request.params.id, action === 'pause', callerOf(request)))
  }
}

function callerOf (request: FastifyRequest): ScheduleCaller {
  const principal = request.principal!
  return { subject: principal.subject, admin: hasScope(principal, 'admin') }
}
