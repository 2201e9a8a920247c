import type { FastifyReply } from 'fastify'
import type { ApiContext } from './api-context.ts'
import { RateLimitedError } from '../errors.ts'
import { UNSENT_RETRY_MS } from '../transport/unsent-replies.ts'
import { whenReplyClosed } from './reply-closed.ts'

/**
 * Sends `view` (a task with its value: up to 16 MiB) as JSON, serialized by the route's response schema
 * for `status` (which drops what the API never shows: an error's stack, naming paths on the worker's
 * machine, the submitter, progress), held against what `subject` has not read yet
 * (`api.unsent`) until the response is done; past that bound, 429 ERR_RATE_LIMITED. A client that asks
 * for a large result over and over without reading would otherwise have the node hold every answer, as
 * nothing times out a response its client does not read.
 */
export async function sendHeld (api: Pick<ApiContext, 'unsent'>, reply: FastifyReply, subject: string, status: number, view: object): Promise<FastifyReply> {
  reply.code(status)
  const body = reply.serialize(view)
  const release = api.unsent.hold(subject, Buffer.byteLength(body))
  if (release == null) throw new RateLimitedError(UNSENT_RETRY_MS)
  whenReplyClosed(reply, release)
  return await reply.type('application/json; charset=utf-8').send(body)
}
