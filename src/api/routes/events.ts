import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../api-context.ts'
import type { EventLog } from '../live/event-log.ts'
import { idParams, problemResponses } from '../schemas.ts'
import { visibleSession, visibleTask } from '../ownership.ts'
import type { Principal } from '../auth/scopes.ts'
import { serveEvents } from '../live/sse.ts'

const eventsQuery = { type: 'object', properties: { after: { type: 'string', pattern: '^([0-9a-f]{1,16}\\.)?\\d{1,15}$' } } } as const
const description = 'Server-sent events, each with an id (<epoch>.<n>): status, progress, log, then result or error (session streams also counts). Reconnecting with Last-Event-ID (or ?after=) resumes after that event; a `gap` event says the replay buffer no longer held some, or the id was of a log since forgotten.'

/** `GET /v1/tasks/:id/events`, `GET /v1/sessions/:id/events`. */
export function eventRoutes (app: FastifyInstance, api: ApiContext): void {
  const stream = (url: string, summary: string, logOf: (principal: Principal, id: string) => EventLog): void => {
    app.get<{ Params: { id: string } }>(url, {
      config: { scope: 'tasks:read' },
      schema: { summary, description, tags: ['live'], params: idParams, querystring: eventsQuery, response: { ...problemResponses } }
    }, async (request, reply) => serveEvents(request, reply, logOf(request.principal!, request.params.id), {
      maxBufferedBytes: api.settings.maxBufferedBytes,
      release: api.streams.take(request.principal!.subject),
      // a client certificate revoked, or a certificate or token expired, while the stream is open ends it
      watch: end => api.credentials.hold(request.principal!, end)
    }))
  }
  stream('/v1/tasks/:id/events', 'Follow a task live (text/event-stream)', (principal, id) => api.live.task(visibleTask(api, principal, id)))
  stream('/v1/sessions/:id/events', 'Follow every task of a session live (text/event-stream)', (principal, id) => api.live.session(visibleSession(api, principal, id)))
}
