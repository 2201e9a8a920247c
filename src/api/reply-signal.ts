import type { FastifyReply } from 'fastify'

/** Aborted when the response's connection closes: before the answer, that is the client going away (a `?wait=1` stops waiting; the task goes on). */
export function replySignal (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => { controller.abort() })
  return controller.signal
}
