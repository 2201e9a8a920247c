import type { FastifyReply, FastifyRequest } from 'fastify'
import type { EventLog, LiveEvent } from './event-log.ts'
import type { CredentialRefusal } from '../auth/scopes.ts'

const PING_EVERY_MS = 15_000

/** An event id as a reader sends it back: `<epoch>.<seq>` as sent, or a bare `<seq>` (of the log as it is now). */
const EVENT_ID = /^(?:([0-9a-f]{1,16})\.)?(\d{1,15})$/

/** Where a reader resumes: `Last-Event-ID` (a reconnecting EventSource sends it), else `?after=`, else the start. */
export function resumeAfter (request: FastifyRequest): { after: number, epoch?: string, id?: string } {
  const header = request.headers['last-event-id']
  const query = (request.query as { after?: unknown } | undefined)?.after
  const text = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined
  const match = text == null ? null : EVENT_ID.exec(text)
  return match == null ? { after: 0 } : { after: Number(match[2]), epoch: match[1], id: text }
}

/**
 * Serves `log` as server-sent events: a `gap` event if the reader resumes
 * behind the replay buffer, the events after `after` (each with its `id:`),
 * then new ones as they come; the response ends with the stream. A reader
 * that already has every event of an ended stream gets 204, which tells an
 * EventSource to stop reconnecting. A reader with more than
 * `maxBufferedBytes` unsent is dropped (it is not reading); one already
 * gone gives its slot back at once. `watch` (given the stream's end) ends it
 * when its reader's credential stops being one (a client certificate revoked,
 * a certificate or token expired), with a comment saying why; it returns its release.
 */
export function serveEvents (request: FastifyRequest, reply: FastifyReply, log: EventLog, options: { maxBufferedBytes: number, release: () => void, watch?: (end: (refused: CredentialRefusal) => void) => () => void }): FastifyReply {
  const asked = resumeAfter(request)
  const { after, gap } = log.resume(asked.after, asked.epoch)
  if (log.ended && !gap && after >= log.lastSeq) {
    options.release()
    return reply.code(204).send()
  }
  const res = reply.raw
  reply.hijack()
  // a client gone during the async work before this (token verification) fired 'close' already: listened for now, it would never come
  if (res.destroyed || res.closed || request.raw.socket.destroyed) {
    options.release()
    return reply
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' })
  res.write('retry: 2000\n\n')
  let closed = false
  let unsubscribe = (): void => {}
  let unwatch = (): void => {}
  const close = (): void => {
    if (closed) return
    closed = true
    clearInterval(ping)
    unsubscribe()
    unwatch()
    options.release()
  }
  const write = (text: string): void => {
    if (closed) return
    if (res.writableLength > options.maxBufferedBytes) {
      request.log.warn({ bufferedBytes: res.writableLength, stream: log.key }, 'dropped an event stream that was not reading')
      close()
      res.destroy()
      return
    }
    res.write(text)
  }
  const ping = setInterval(() => { write(': ping\n\n') }, PING_EVERY_MS)
  ping.unref()
  res.once('close', close)
  unwatch = options.watch?.(refused => {
    // a comment: an EventSource skips it, reconnects and is refused (401), which stops it; curl shows why
    write(`: closed: ${refused.detail}\n\n`)
    close()
    res.end()
  }) ?? unwatch
  if (closed) return reply
  // the gap notice carries no id: the reader's Last-Event-ID stays where it was
  if (gap) write(`event: gap\ndata: ${JSON.stringify({ after: asked.id ?? null, stream: log.key })}\n\n`)
  unsubscribe = log.follow(after, event => { write(frame(log, event)) }, () => {
    close()
    res.end()
  })
  return reply
}

function frame (log: EventLog, event: LiveEvent): string {
  return `id: ${log.idOf(event.seq)}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`
}
