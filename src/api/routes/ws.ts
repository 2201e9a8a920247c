import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../api-context.ts'
import { closeRefused, serveSocket } from '../live/ws-session.ts'
import { problemResponses } from '../schemas.ts'
import { problem, sendProblem } from '../problem.ts'

/** `GET /v1/ws`: one WebSocket, many subscriptions (tasks and sessions). */
export function wsRoutes (app: FastifyInstance, api: ApiContext): void {
  // `handler` and `wsHandler` (not `websocket: true`, which hides the route from the OpenAPI document)
  app.route({
    method: 'GET',
    url: '/v1/ws',
    config: { scope: 'tasks:read' },
    schema: {
      summary: 'WebSocket: send {"op":"subscribe"|"unsubscribe","task"|"session":id,"after"?:seq,"epoch"?:string}; receive {"op":"event","stream","id","epoch","seq","type","data"}, "subscribed", "end", "error"',
      tags: ['live'],
      response: { 426: { $ref: 'Problem#' }, ...problemResponses }
    },
    handler: async (_request, reply) => sendProblem(reply, problem(426, 'ERR_UPGRADE_REQUIRED', 'this route speaks WebSocket only')),
    wsHandler: (socket, request) => {
      // unlike an event stream's (sse.ts), never late for 'close': ws calls this synchronously, only for a socket still open
      const principal = request.principal!
      let release: () => void
      try {
        release = api.streams.take(principal.subject)
      } catch {
        socket.close(1013, 'too many live streams open')
        return
      }
      // a client certificate revoked, or a certificate or token expired, while the socket is open closes it (1008, policy violation)
      const unwatch = api.credentials.hold(principal, refused => { closeRefused(socket, refused) })
      serveSocket(socket, api, principal, () => { unwatch(); release() })
    }
  })
}
