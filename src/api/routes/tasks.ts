import type { FastifyInstance } from 'fastify'
import type { ApiContext } from '../api-context.ts'
import { acceptedSchema, idParams, outcomeSchema, problemResponses, submitBodySchema, taskSchema, waitQuery, wantsWait } from '../schemas.ts'
import { checkMayCancelTask, visibleTask } from '../ownership.ts'
import { submitTask, taskView } from '../submit.ts'
import { settledWithin } from '../../tasks/settled-within.ts'
import type { SubmitRequest } from '../submit.ts'
import { hasScope } from '../auth/scopes.ts'
import { ForbiddenError } from '../../errors.ts'
import { replySignal } from '../reply-signal.ts'
import { sendHeld } from '../held-reply.ts'

/** `POST /v1/tasks`, `GET /v1/tasks/:id`, `DELETE /v1/tasks/:id`. */
export function taskRoutes (app: FastifyInstance, api: ApiContext): void {
  app.post<{ Body: SubmitRequest, Querystring: { wait?: string } }>('/v1/tasks', {
    config: { scope: 'tasks:submit' },
    schema: {
      summary: 'Submit a task: a registered name (tasks:submit) or an absolute module path (tasks:module); ?wait=1 answers with the outcome',
      tags: ['tasks'],
      body: submitBodySchema,
      querystring: waitQuery,
      response: { 200: outcomeSchema, 202: acceptedSchema, ...problemResponses }
    }
  }, async (request, reply) => {
    const principal = request.principal!
    if (request.body.module != null && !hasScope(principal, 'tasks:module')) throw new ForbiddenError('running a module path needs the scope tasks:module (member): tasks:submit runs registered task names only')
    const task = submitTask(api, request.body, principal)
    if (wantsWait(request.query)) {
      // bounded, as over the tasks protocol: a task queued with no agent free has no timeout running yet
      await settledWithin(task, { signal: replySignal(reply), timeoutMs: api.settings.maxWaitMs })
      if (task.final) return await sendHeld(api, reply, principal.subject, 200, taskView(task))
    }
    // accepted (or still running after a wait): where to read it later
    return await reply.code(202).header('location', `/v1/tasks/${encodeURIComponent(task.id)}`).send({ id: task.id, session: task.session, status: task.status })
  })

  app.get<{ Params: { id: string } }>('/v1/tasks/:id', {
    config: { scope: 'tasks:read' },
    schema: { summary: 'A task: status, attempts, agent, times, and its value or error once final (a client sees only the tasks it submitted: others are 404)', tags: ['tasks'], params: idParams, response: { 200: taskSchema, ...problemResponses } }
  }, async (request, reply) => await sendHeld(api, reply, request.principal!.subject, 200, taskView(visibleTask(api, request.principal!, request.params.id))))

  app.delete<{ Params: { id: string } }>('/v1/tasks/:id', {
    config: { scope: 'tasks:cancel' },
    schema: { summary: 'Cancel a task (its own submitter, or admin; another client\'s is 404); answers with the task as it stands', tags: ['tasks'], params: idParams, response: { 202: taskSchema, ...problemResponses } }
  }, async (request, reply) => {
    const task = visibleTask(api, request.principal!, request.params.id)
    checkMayCancelTask(request.principal!, task)
    task.cancel(`cancelled through the HTTP API by ${request.principal!.subject}`)
    return await sendHeld(api, reply, request.principal!.subject, 202, taskView(task))
  })
}
