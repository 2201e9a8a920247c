import * as v from 'valibot'
import type { WebSocket } from 'ws'
import type { ApiContext } from '../api-context.ts'
import type { EventLog } from './event-log.ts'
import { visibleSession, visibleTask } from '../ownership.ts'
import type { CredentialRefusal, Principal } from '../auth/scopes.ts'
import { problemOf } from '../problem.ts'

/** Closes a socket whose client certificate or token no longer is a credential: 1008 (policy violation), saying why ('token expired'). */
export function closeRefused (socket: WebSocket, refused: CredentialRefusal): void {
  if (socket.readyState === socket.OPEN) socket.close(1008, `${refused.credential} ${refused.reason}`)
}

/** Subscriptions one socket may hold at once. */
export const MAX_SUBSCRIPTIONS = 64

const target = { task: v.optional(v.pipe(v.string(), v.maxLength(200))), session: v.optional(v.pipe(v.string(), v.maxLength(200))) }
const clientMessage = v.variant('op', [
  v.object({ op: v.literal('subscribe'), ...target, after: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))), epoch: v.optional(v.pipe(v.string(), v.maxLength(32))) }),
  v.object({ op: v.literal('unsubscribe'), ...target })
])
type Target = { stream: 'task' | 'session', id: string }

/**
 * One `/v1/ws` connection: the client subscribes to tasks and sessions
 * (those `principal` may see: ownership.ts)
 * (`{"op":"subscribe","task":id,"after":seq,"epoch"?}`), and gets each stream's
 * events as `{"op":"event","stream","id","epoch","seq","type","data"}` (replayed
 * after `after`, then live; from the start, with `gap`, when `epoch` names an
 * earlier log of the stream), `{"op":"end"}` when a stream ends, and
 * `{"op":"error"}` for a bad request (the socket stays open). A socket with
 * more than `maxBufferedBytes` unsent is closed (1013: it is not reading), and
 * one that answers no ping within `pingMs`: a peer gone without a close (a
 * laptop asleep, a NAT that forgot it) would otherwise hold its stream slot for
 * good, as nothing is written to an idle socket that could fail. A socket
 * opened with a client certificate that is revoked or expires, or with a
 * token that expires, is closed (1008): the route holds it in
 * `api.credentials`, and each message checks too.
 */
export function serveSocket (socket: WebSocket, api: ApiContext, principal: Principal, release: () => void): void {
  const subscriptions = new Map<string, () => void>()
  const send = (message: Record<string, unknown>): void => {
    if (socket.readyState !== socket.OPEN) return
    if (socket.bufferedAmount > api.settings.maxBufferedBytes) {
      api.log.warn({ bufferedBytes: socket.bufferedAmount }, 'closed a WebSocket that was not reading')
      socket.close(1013, 'not reading fast enough')
      socket.terminate()
      return
    }
    socket.send(JSON.stringify(message))
  }
  const subscribe = (to: Target, after: number, epoch?: string): void => {
    const key = `${to.stream} ${to.id}`
    // subscribing again starts over from the new `after` (a replay the client asks for): the old one goes first
    subscriptions.get(key)?.()
    subscriptions.delete(key)
    if (subscriptions.size >= MAX_SUBSCRIPTIONS) throw new RangeError(`at most ${MAX_SUBSCRIPTIONS} subscriptions per socket`)
    const log: EventLog = to.stream === 'task'
      ? api.live.task(visibleTask(api, principal, to.id))
      : api.live.session(visibleSession(api, principal, to.id))
    const resume = log.resume(after, epoch)
    send({ op: 'subscribed', ...to, epoch: log.epoch, gap: resume.gap })
    // set before follow: a stream already ended calls onEnd at once
    subscriptions.set(key, () => {})
    const unsubscribe = log.follow(resume.after, event => { send({ op: 'event', ...to, epoch: log.epoch, seq: event.seq, type: event.type, data: event.data }) }, () => {
      subscriptions.delete(key)
      send({ op: 'end', ...to })
    })
    if (subscriptions.has(key)) subscriptions.set(key, unsubscribe)
  }
  socket.on('message', (raw, isBinary) => {
    // every message is a request on the credential of the upgrade: one revoked or expired since (a client certificate, a token) is none
    const refused = api.credentials.refusal(principal)
    if (refused != null) {
      closeRefused(socket, refused)
      return
    }
    let request: unknown
    try {
      if (isBinary) throw new TypeError('messages are JSON text')
      const parsed = v.safeParse(clientMessage, JSON.parse(String(raw)))
      if (!parsed.success) throw new TypeError(`expected {"op":"subscribe"|"unsubscribe","task"|"session":id,"after"?:seq,"epoch"?:string}: ${parsed.issues[0].message}`)
      request = parsed.output
      const message = parsed.output
      const to: Target | undefined = message.task != null ? { stream: 'task', id: message.task } : message.session != null ? { stream: 'session', id: message.session } : undefined
      if (to == null || (message.task != null && message.session != null)) throw new TypeError('name exactly one of task or session')
      if (message.op === 'subscribe') subscribe(to, message.after ?? 0, message.epoch)
      else {
        const key = `${to.stream} ${to.id}`
        subscriptions.get(key)?.()
        subscriptions.delete(key)
        send({ op: 'unsubscribed', ...to })
      }
    } catch (err) {
      const problem = err instanceof TypeError || err instanceof SyntaxError || err instanceof RangeError ? { code: 'ERR_VALIDATION', detail: err.message } : problemOf(err)
      send({ op: 'error', code: problem.code, message: problem.detail, request })
    }
  })
  let answered = true
  socket.on('pong', () => { answered = true })
  const heartbeat = setInterval(() => {
    if (!answered) {
      api.log.info('closed a WebSocket whose peer answered no ping')
      socket.terminate()
      return
    }
    answered = false
    socket.ping()
  }, api.settings.pingMs)
  heartbeat.unref()
  socket.on('close', () => {
    clearInterval(heartbeat)
    for (const unsubscribe of subscriptions.values()) unsubscribe()
    subscriptions.clear()
    release()
  })
}
