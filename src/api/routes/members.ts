import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../api-context.ts'
import { memberSchema, problemResponses } from '../schemas.ts'

/** `GET /v1/members`: the grid as this node sees it. */
export function memberRoutes (app: FastifyInstance, api: ApiContext): void {
  app.get('/v1/members', {
    config: { scope: 'tasks:read' },
    schema: { summary: 'The members of the grid as this node knows them (itself first)', tags: ['members'], response: { 200: { type: 'array', items: memberSchema }, ...problemResponses } }
  }, async () => {
    const self = api.node.self()
    return [self, ...api.node.members()].map(m => ({
      id: m.id,
      self: m.id === self.id,
      role: m.role,
      state: m.state,
      addresses: m.addresses,
      weight: m.weight,
      cpu: m.load.cpu,
      workers: m.load.workers,
      maxWorkers: m.load.maxWorkers,
      lastSeenMs: m.lastSeenMs
    }))
  })
}
