import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../api-context.ts'
import type { Session } from '../../tasks/session.ts'
import type { SessionOptions } from '../../tasks/types.ts'
import { idParams, problemResponses, sessionBodySchema, sessionSchema } from '../schemas.ts'
import { apiSubmitter, checkMayEndSession, opened, readsAll, visibleSession } from '../ownership.ts'
import { MAX_LIST } from '../../tasks/protocol-schema.ts'

/** `POST /v1/sessions`, `GET /v1/sessions`, `GET /v1/sessions/:id`, `POST /v1/sessions/:id/close`, `DELETE /v1/sessions/:id`. */
export function sessionRoutes (app: FastifyInstance, api: ApiContext): void {
  app.post<{ Body: SessionOptions }>('/v1/sessions', {
    config: { scope: 'tasks:submit' },
    schema: { summary: 'Open a session (defaults for its tasks: maxRetries, timeoutMs, priority)', tags: ['sessions'], body: sessionBodySchema, response: { 201: sessionSchema, ...problemResponses } },
    // every field is optional, so no body at all (curl -X POST) opens one with the defaults: the schema refused it
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    const opener = apiSubmitter(request.principal!.subject)
    // held (with its tasks' records) until closed and done: per subject and for all together (api.budgets)
    const release = api.budgets.sessions.take(opener, 0)
    // its opener journaled with it: after a restart it is still this subject's, and on its budget (resumed.ts)
    const session = api.node.tasks.session(request.body, undefined, false, opener)
    void session.done.then(release)
    // followed from its first task: a reader that comes later still replays them all
    api.live.trackSession(session)
    return await reply.code(201).header('location', `/v1/sessions/${encodeURIComponent(session.id)}`).send(sessionView(session))
  })

  app.get('/v1/sessions', {
    config: { scope: 'tasks:read' },
    schema: { summary: `The sessions of this node (a client: those it opened), with counts by status (at most ${MAX_LIST})`, tags: ['sessions'], response: { 200: { type: 'array', items: sessionSchema }, ...problemResponses } }
  }, async (request) => {
    const principal = request.principal!
    // a client lists the sessions it opened; members and admins all
    const all = readsAll(principal)
    return api.node.tasks.sessions().filter(s => all || opened(principal, s)).slice(0, MAX_LIST).map(sessionView)
  })

  app.post<{ Params: { id: string } }>('/v1/sessions/:id/close', {
    config: { scope: 'tasks:submit' },
    schema: { summary: 'Close a session: no new tasks; those in it run to their end, then it is forgotten (its own submitter, or admin); the default session stays open', tags: ['sessions'], params: idParams, response: { 202: sessionSchema, ...problemResponses } }
  }, async (request, reply) => {
    const session = visibleSession(api, request.principal!, request.params.id)
    session.closeByRequest(() => { checkMayEndSession(request.principal!, session, 'close') })
    return await reply.code(202).send(sessionView(session))
  })

  app.get<{ Params: { id: string } }>('/v1/sessions/:id', {
    config: { scope: 'tasks:read' },
    schema: { summary: 'A session: its defaults, whether it is closed, its tasks counted by status (and retries); a client sees only the sessions it opened', tags: ['sessions'], params: idParams, response: { 200: sessionSchema, ...problemResponses } }
  }, async (request) => sessionView(visibleSession(api, request.principal!, request.params.id)))

  app.delete<{ Params: { id: string } }>('/v1/sessions/:id', {
    config: { scope: 'tasks:cancel' },
    schema: { summary: 'Cancel a session: every task not yet final, and no new ones (its own submitter, or admin); the default session stays open', tags: ['sessions'], params: idParams, response: { 202: sessionSchema, ...problemResponses } }
  }, async (request, reply) => {
    const session = visibleSession(api, request.principal!, request.params.id)
    checkMayEndSession(request.principal!, session, 'cancel')
    const reason = `cancelled through the HTTP API by ${request.principal!.subject}`
    session.cancelByRequest(reason)
    return await reply.code(202).send(sessionView(session))
  })
}

function sessionView (session: Session): Record<string, unknown> {
  return { id: session.id, name: session.name, closed: session.isClosed, createdAt: session.createdAt, defaults: session.defaults, counts: session.counts() }
}
