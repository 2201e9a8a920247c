import * as v from 'valibot'
import type { AbortOptions, Connection } from '@libp2p/interface'
import { ProtocolError } from '../errors.ts'
import { JsonStream } from '../transport/json-stream.ts'
import { LINE_CLOSE_TIMEOUT_MS, PING_PROTOCOL } from './constants.ts'

/** A ping and its answer are a few dozen bytes. */
export const MAX_PING_BYTES = 256
/**
 * Pings on one line not answered yet, expired ones included: a member paused for long has a
 * backlog it would answer all at once on waking; beyond this the line is dropped with it.
 */
const MAX_UNANSWERED = 8

const ackSchema = v.object({ v: v.literal(1), incarnation: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)) })

type Answer = (incarnation: number | undefined) => void

/** A ping sent and not answered: how to settle it, when it is given up, and whether it was. */
interface Waiting { answer: Answer, deadline: number, settled: boolean }

/**
 * One long-lived ping stream to a watched member. Opening a libp2p stream
 * costs a multistream negotiation, yamux frames and a peer-store update on
 * both sides — most of an idle node's work when each ping took one — so a
 * watcher keeps one stream per member and sends every ping on it. The member
 * answers in order, so answers match pings first-in first-out and need no
 * sequence numbers (the wire format is the one-ping-per-stream one: a member
 * that closes after one answer is simply redialled on the next ping).
 */
export class PingLine {
  readonly connection: Connection
  private readonly json: JsonStream
  /** Pings sent and not answered, oldest first; an expired one stays (answered into the void) to keep the order. */
  private readonly unanswered: Waiting[] = []
  private writing: Promise<void> = Promise.resolve()
  private ended = false
  private expiry?: NodeJS.Timeout

  static async open (connection: Connection, options: AbortOptions): Promise<PingLine> {
    return new PingLine(connection, new JsonStream(await connection.newStream(PING_PROTOCOL, options), { maxBytes: MAX_PING_BYTES }))
  }

  private constructor (connection: Connection, json: JsonStream) {
    this.connection = connection
    this.json = json
    void this.readAnswers()
  }

  get closed (): boolean {
    return this.ended || this.connection.status !== 'open'
  }

  /** Resolves with the member's incarnation, or undefined when no answer came within `timeoutMs`. */
  async ping (timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
    if (this.closed || signal.aborted) return undefined
    if (this.unanswered.length >= MAX_UNANSWERED) {
      this.close(new ProtocolError(`${MAX_UNANSWERED} pings unanswered`))
      return undefined
    }
    return await new Promise(resolve => {
      const waiting: Waiting = {
        deadline: performance.now() + timeoutMs,
        settled: false,
        answer: incarnation => {
          if (waiting.settled) return
          waiting.settled = true
          signal.removeEventListener('abort', onAbort)
          resolve(incarnation)
        }
      }
      const onAbort = (): void => { waiting.answer(undefined) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.unanswered.push(waiting)
      this.expireLater(waiting.deadline)
      // one write at a time: a frame must not interleave with another
      this.writing = this.writing.then(async () => { await this.json.write({ v: 1 }) }).catch(err => { this.close(err as Error) })
    })
  }

  /**
   * One timer per line, not per ping: armed for the oldest deadline, left running when that ping is
   * answered (a timer cleared still woke the process at its time), and on firing it gives up what is
   * overdue and re-arms for the next waiting ping, if any. Pinged once a period and answered at once,
   * a line wakes its node once per timeout, not once per ping.
   */
  private expireLater (deadline: number): void {
    if (this.expiry != null) return
    this.expiry = setTimeout(() => {
      this.expiry = undefined
      const now = performance.now()
      let next = Infinity
      for (const waiting of this.unanswered) {
        if (waiting.settled) continue
        if (waiting.deadline <= now) waiting.answer(undefined)
        else next = Math.min(next, waiting.deadline)
      }
      if (next !== Infinity && !this.ended) this.expireLater(next)
    }, Math.max(0, deadline - performance.now()))
    this.expiry.unref()
  }

  /** Ends the line; pings waiting on it are unanswered. */
  close (err?: Error): void {
    if (this.ended) return
    this.ended = true
    clearTimeout(this.expiry)
    for (const waiting of this.unanswered.splice(0)) waiting.answer(undefined)
    if (err != null) this.json.stream.abort(err)
    else void this.json.close({ signal: AbortSignal.timeout(LINE_CLOSE_TIMEOUT_MS) })
  }

  private async readAnswers (): Promise<void> {
    try {
      for (;;) {
        const ack = await this.json.read(ackSchema)
        const waiting = this.unanswered.shift()
        if (waiting == null) throw new ProtocolError('an answer to no ping')
        waiting.answer(ack.incarnation)
      }
    } catch (err) {
      // the member closed the line (idle, stopping, an older node answering once) or broke it
      this.close((err as Error).name === 'UnexpectedEOFError' ? undefined : err as Error)
    }
  }
}
