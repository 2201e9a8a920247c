import type { FastifyReply } from 'fastify'

/**
 * Calls `then` once the response's connection closes, or at once if it has already: a client gone during
 * the async work before the handler (token verification) fired 'close' then, and a listener added now
 * would wait for it for ever (sse.ts guards the same way).
 */
export function whenReplyClosed (reply: FastifyReply, then: () => void): void {
  const res = reply.raw
  if (res.destroyed || res.closed || reply.request.raw.socket?.destroyed === true) {
    then()
    return
  }
  res.once('close', then)
}
