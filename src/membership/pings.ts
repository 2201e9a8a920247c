import * as v from 'valibot'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream } from '@libp2p/interface'
import { ProtocolError } from '../errors.ts'
import { JsonStream } from '../transport/json-stream.ts'
import type { Logger } from '../logger.ts'
import { guarded } from '../trust/guard.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'
import type { MembershipLibp2p, MembershipRoles } from './components.ts'
import { LINE_CLOSE_TIMEOUT_MS, PING_PROTOCOL } from './constants.ts'
import { MAX_PING_BYTES, PingLine } from './ping-line.ts'

/** One watcher pings a member once a period, on one line; a few more streams cover reconnects and restarts. */
const MAX_INBOUND_PINGS = 4
/** Pings to one member that may wait for an answer at once (one a period, each up to suspectAfterMs). */
const MAX_PINGS_IN_FLIGHT = 3
/** A line with no ping for this long is closed by the member (its watcher reopens one when it pings again). */
const IDLE_LINE_MS = 60_000
/** Pings one line may carry per second: watchers ping once a heartbeat; more is a peer making this node work. */
const MAX_PINGS_PER_SECOND = 50

const pingSchema = v.object({ v: v.literal(1) })

/**
 * The watchers' pings over libp2p: one long-lived stream per watched member
 * (PingLine) on the connection to it (its certificate authenticated it, so the
 * answer is its own word), each ping answered with the member's incarnation.
 * A member that does not answer within the timeout (paused, partitioned,
 * gone) is silent this period.
 */
export class MemberPings {
  private readonly libp2p: Pick<MembershipLibp2p, 'handle' | 'unhandle' | 'getConnections'>
  private readonly roles: MembershipRoles
  private readonly log: Logger
  private readonly rejections: Rejections
  private readonly incarnation: () => number
  private readonly inFlight = new Map<string, number>()
  private readonly lines = new Map<string, Promise<PingLine | undefined>>()

  constructor (libp2p: MemberPings['libp2p'], roles: MembershipRoles, log: Logger, rejections: Rejections, incarnation: () => number) {
    this.libp2p = libp2p
    this.roles = roles
    this.log = log
    this.rejections = rejections
    this.incarnation = incarnation
  }

  async start (): Promise<void> {
    // no stream deadline: a line lives as long as its watcher pings on it (IDLE_LINE_MS bounds a silent one)
    await this.libp2p.handle(PING_PROTOCOL, guarded(this.roles, PING_PROTOCOL, ['member'], async (stream, connection) => { await this.answer(stream, connection) }), { maxInboundStreams: MAX_INBOUND_PINGS })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(PING_PROTOCOL)
    const lines = [...this.lines.values()]
    this.lines.clear()
    for (const line of await Promise.all(lines)) line?.close()
  }

  /**
   * Closes and forgets the lines to members not in `ids` (those pinged this period): the ring moves on as
   * members come and go, and a line kept per member ever pinged held its stream, and then its connection, for good.
   */
  keepLines (ids: Iterable<string>): void {
    const kept = new Set(ids)
    for (const [id, pending] of this.lines) {
      if (kept.has(id)) continue
      this.lines.delete(id)
      void pending.then(line => { line?.close() })
    }
  }

  /**
   * Pings `id`; resolves with its incarnation, or undefined when it did not answer in time. A few
   * pings per member may wait at once: a lost one must not hold back the next period's.
   */
  async ping (id: string, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
    const waiting = this.inFlight.get(id) ?? 0
    if (waiting >= MAX_PINGS_IN_FLIGHT) return undefined
    this.inFlight.set(id, waiting + 1)
    try {
      const line = await this.line(id, timeoutMs, signal)
      return await line?.ping(timeoutMs, signal)
    } catch (err) {
      // an id the table let through that is not a peer id: unanswered, like any other failure
      this.log.trace({ member: id, err }, 'ping unanswered')
      return undefined
    } finally {
      const left = (this.inFlight.get(id) ?? 1) - 1
      if (left > 0) this.inFlight.set(id, left)
      else this.inFlight.delete(id)
    }
  }

  /** The open line to `id` on its current connection, opened if there is none (undefined: no connection, or it failed). */
  private async line (id: string, timeoutMs: number, signal: AbortSignal): Promise<PingLine | undefined> {
    // no dial here: MemberConnections keeps the members this node watches connected
    const connection = this.libp2p.getConnections(peerIdFromString(id))[0]
    if (connection == null) return undefined
    // no await on the way to `set` when there is no line: a second ping in the same turn then shares this one's
    const pending = this.lines.get(id)
    const current = pending == null ? undefined : await pending
    if (current != null && !current.closed && current.connection === connection) return current
    current?.close()
    const opening = PingLine.open(connection, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }).catch((err: unknown) => {
      this.log.trace({ member: id, err }, 'ping line not opened')
      return undefined
    })
    this.lines.set(id, opening)
    const line = await opening
    if (line == null && this.lines.get(id) === opening) this.lines.delete(id)
    return line
  }

  /** Answers a watcher's pings in order until it closes the line, falls silent, floods it or sends garbage. */
  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: MAX_PING_BYTES })
    let second = 0
    let inSecond = 0
    // one idle timer per line, pushed back by each ping (a timer per ping fired a minute later, every one)
    const idle = new AbortController()
    const signal = idle.signal
    const idleTimer = setTimeout(() => { idle.abort() }, IDLE_LINE_MS)
    idleTimer.unref()
    try {
      for (;;) {
        idleTimer.refresh()
        try {
          await json.read(pingSchema, { signal })
        } catch (err) {
          const name = (err as Error).name
          // the watcher closed the line, or stopped pinging on it: a quiet end
          if (name === 'UnexpectedEOFError' || name === 'TimeoutError' || name === 'AbortError') { await json.close({ signal: AbortSignal.timeout(LINE_CLOSE_TIMEOUT_MS) }); return }
          throw err
        }
        const now = Math.floor(performance.now() / 1000)
        if (now !== second) { second = now; inSecond = 0 }
        if (++inSecond > MAX_PINGS_PER_SECOND) throw new ProtocolError(`more than ${MAX_PINGS_PER_SECOND} pings in a second`)
        await json.write({ v: 1, incarnation: this.incarnation() }, { signal })
      }
    } catch (err) {
      // a flood or garbage (ProtocolError) is malformed; a line reset under an answer (its connection cut) is a stream failure
      this.rejections.reject(PING_PROTOCOL, streamFailure(err), connection.remotePeer.toString(), 'dropped a member ping line', String(err), { err })
      stream.abort(err as Error)
    } finally {
      clearTimeout(idleTimer)
    }
  }
}
