import Fastify, { LogController } from 'fastify'
import type { FastifyBaseLogger, FastifyInstance, FastifyServerFactory } from 'fastify'
import { createServer as createHttpsServer } from 'node:https'
import type { Server } from 'node:http'
import swagger from '@fastify/swagger'
import websocket from '@fastify/websocket'
import rateLimit from '@fastify/rate-limit'
import type { AddonContext } from '../addons/addon.ts'
import type { ApiOptions } from './options.ts'
import { apiSettings } from './options.ts'
import type { ApiContext } from './api-context.ts'
import { jwtVerifier } from './auth/jwt.ts'
import { requireScopes } from './auth/guard.ts'
import { problemHandler, problemSchema, sendProblem, problem } from './problem.ts'
import { LiveHub } from './live/hub.ts'
import { StreamSlots } from './live/stream-slots.ts'
import { CredentialStreams } from './auth/credential-streams.ts'
import { holdResumed } from './resumed.ts'
import { SubmitBudget, remoteSessionsBudget } from '../tasks/submit-budget.ts'
import { hostAllowed, originAllowed } from '../addons/host-check.ts'
import { explainServerListenFailure } from '../transport/listen-error.ts'
import { taskRoutes } from './routes/tasks.ts'
import { sessionRoutes } from './routes/sessions.ts'
import { memberRoutes } from './routes/members.ts'
import { eventRoutes } from './routes/events.ts'
import { wsRoutes } from './routes/ws.ts'
import { hookRoutes, loadHooks } from './routes/hooks.ts'
import { scheduleRoutes } from './routes/schedules.ts'
import { startSchedules } from '../schedules/start.ts'
import { rateKey } from './rate-key.ts'
import { RateLimitedError } from '../errors.ts'
import { checkOption } from '../checks/check.ts'
import { listenPort } from '../checks/values.ts'
import { UnsentReplies } from '../transport/unsent-replies.ts'
import { MAX_UNSENT_REPLY_BYTES } from '../tasks/result-cap.ts'

export interface ApiServer {
  /** `http://host:port` with the port bound. */
  url: string
  close: () => Promise<void>
}

/**
 * The HTTP API of one node (DESIGN §13): Fastify with JSON-schema validation
 * and serialization, an OpenAPI document at `/docs/json`, bearer-token scopes,
 * a rate limit per subject (webhooks: per address), a Host/Origin check, and
 * one route module per concern (tasks, sessions, members, live output, webhooks).
 */
export async function startApiServer (ctx: Pick<AddonContext, 'peerId' | 'members' | 'self' | 'tasks' | 'log' | 'certificateRevoked' | 'channel' | 'handle'> & Partial<Pick<AddonContext, 'ownCertificateRevoked' | 'on' | 'off'>>, options: ApiOptions): Promise<ApiServer> {
  const settings = apiSettings(options)
  checkOption('api port', listenPort, settings.port)
  const verify = settings.jwt == null ? undefined : await jwtVerifier(settings.jwt)
  const hooks = await loadHooks(settings.hooks, name => ctx.tasks.registeredModule(name))
  if (verify == null && settings.tls == null) ctx.log.warn('the HTTP API has no token verifier and no client certificates: every route but the webhooks answers 401')

  const live = new LiveHub({ replayEvents: settings.replayEvents, replayTtlMs: settings.replayTtlMs, maxFollowed: settings.maxFollowed })
  const schedules = await startSchedules(ctx, settings.schedules)
  const revoked = (serial: string): boolean => ctx.certificateRevoked(serial)
  const credentials = new CredentialStreams(revoked)
  // a CRL the node takes ends at once the streams its revoked certificates hold open (their next requests get 401 anyway)
  const onCrl = (): void => { credentials.recheck() }
  ctx.on?.('crl:update', onCrl)
  const api: ApiContext = { node: ctx, settings, live, budgets: { tasks: new SubmitBudget(), sessions: remoteSessionsBudget() }, streams: new StreamSlots(settings.maxStreams, settings.maxStreamsPerSubject), credentials, unsent: new UnsentReplies(MAX_UNSENT_REPLY_BYTES), schedules, log: ctx.log }
  // what the node resumed from its journal is on its subjects' budgets before the first request
  holdResumed(ctx.tasks, api.budgets)
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    // a request line per call would swamp the node's log under load; failures are logged where they happen
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: settings.bodyLimitBytes,
    forceCloseConnections: true,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // a URL the router refuses before any route (bad %-encoding, a parameter over its length) is a problem too
    frameworkErrors: (err, request, reply) => problemHandler(err, request, reply),
    ...(settings.tls == null ? {} : { serverFactory: httpsServerFactory(settings.tls) })
  })
  app.setErrorHandler(problemHandler)
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    return sendProblem(reply, problem(404, 'ERR_NOT_FOUND', `no route ${request.method} ${path}${unencodedIdHint(path)}`))
  })
  app.addSchema(problemSchema)

  const allowed = new Set([settings.host, ...settings.allowedHosts].map(h => h.toLowerCase()))
  app.addHook('onRequest', async (request, reply) => {
    if (!hostAllowed(request.headers.host, allowed) || !originAllowed(request.headers.origin, allowed)) {
      return sendProblem(reply, problem(403, 'ERR_FORBIDDEN', 'host not allowed (Host or Origin names a host this API does not answer to)'))
    }
  })
  requireScopes(app, verify, revoked)
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: settings.rateLimit,
    timeWindow: settings.rateWindowMs,
    // after authentication: a subject wherever it connects from, others by address and route (rate-key.ts)
    keyGenerator: rateKey,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.ttl)
  })
  await app.register(swagger, {
    openapi: {
      info: { title: 'gridd HTTP API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }]
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
  })
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } })

  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger())
  // one route module per concern; a tasks dashboard registers here the same way
  await app.register(async (routes) => {
    taskRoutes(routes, api)
    sessionRoutes(routes, api)
    memberRoutes(routes, api)
    eventRoutes(routes, api)
    wsRoutes(routes, api)
    hookRoutes(routes, api, hooks)
    scheduleRoutes(routes, api)
  })

  try {
    await app.listen({ port: settings.port, host: settings.host })
  } catch (err) {
    ctx.off?.('crl:update', onCrl)
    credentials.close()
    schedules.stop()
    live.close()
    await app.close()
    throw explainServerListenFailure(err, 'api', settings.host, settings.port)
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address != null ? address.port : settings.port
  const url = `${settings.tls == null ? 'http' : 'https'}://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`
  ctx.log.info({ url, hooks: [...hooks.keys()] }, 'HTTP API listening')
  return {
    url,
    close: async () => {
      // live streams end first (their readers see the end), then the server stops
      ctx.off?.('crl:update', onCrl)
      credentials.close()
      schedules.stop()
      live.close()
      for (const client of websocketClients(app)) client.terminate()
      await app.close()
    }
  }
}

/** HTTPS asking for (not requiring) a client certificate: verified against the CA, it is a credential; a token still works without one. */
function httpsServerFactory (tls: { ca: string, cert: string, key: string }): FastifyServerFactory {
  return handler => createHttpsServer({ ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, handler) as unknown as Server
}

function websocketClients (app: FastifyInstance): Iterable<{ terminate: () => void }> {
  return app.websocketServer?.clients ?? []
}

/**
 * `/v1/tasks/<peer id>/t-…` as copied from an id: the '/' inside the id splits it over two path
 * segments and no route matches, so the 404 says how to write it.
 */
function unencodedIdHint (path: string): string {
  const id = /^\/v1\/(?:tasks|sessions|schedules)\/([^/]+\/[ts]-[^/]+)/.exec(path)?.[1]
  return id == null ? '' : ` (a task or session id holds a '/': encode it as %2F, ${id.replace('/', '%2F')})`
}
