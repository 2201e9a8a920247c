import type { FastifyReply } from 'fastify'
import { whenReplyClosed } from './reply-closed.ts'

/** Aborted when the response's connection closes: before the answer, that is the client going away (a `?wait=1` stops waiting; the task goes on). */
export function replySignal (reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  // a client already gone (during token verification) aborts it at once
  whenReplyClosed(reply, () => { controller.abort() })
  return controller.signal
}
