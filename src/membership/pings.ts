import * as v from 'valibot'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream } from '@libp2p/interface'
import { JsonStream } from '../transport/json-stream.ts'
import type { Logger } from '../logger.ts'
import { guarded } from '../trust/guard.ts'
import type { Rejections } from '../transport/rejections.ts'
import type { MembershipLibp2p, MembershipRoles } from './components.ts'
import { PING_PROTOCOL } from './constants.ts'

/** A ping and its answer are a few dozen bytes. */
const MAX_PING_BYTES = 256
/** One watcher pings a member once a period: a few streams at once is plenty. */
const MAX_INBOUND_PINGS = 4
/** Pings to one member that may wait for an answer at once (one a period, each up to suspectAfterMs). */
const MAX_PINGS_IN_FLIGHT = 3

const pingSchema = v.object({ v: v.literal(1) })
const ackSchema = v.object({ v: v.literal(1), incarnation: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)) })

/**
 * The watchers' ping over libp2p: a stream on the connection to the member
 * (its certificate authenticated it, so the answer is its own word), one
 * request, one answer carrying its incarnation. A member that does not
 * answer within the timeout (paused, partitioned, gone) is silent this period.
 */
export class MemberPings {
  private readonly libp2p: Pick<MembershipLibp2p, 'handle' | 'unhandle' | 'getConnections'>
  private readonly roles: MembershipRoles
  private readonly log: Logger
  private readonly rejections: Rejections
  private readonly incarnation: () => number
  private readonly inFlight = new Map<string, number>()

  constructor (libp2p: MemberPings['libp2p'], roles: MembershipRoles, log: Logger, rejections: Rejections, incarnation: () => number) {
    this.libp2p = libp2p
    this.roles = roles
    this.log = log
    this.rejections = rejections
    this.incarnation = incarnation
  }

  async start (): Promise<void> {
    await this.libp2p.handle(PING_PROTOCOL, guarded(this.roles, PING_PROTOCOL, ['member'], async (stream, connection) => { await this.answer(stream, connection) }, { deadlineMs: 10_000 }), { maxInboundStreams: MAX_INBOUND_PINGS })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(PING_PROTOCOL)
  }

  /**
   * Pings `id`; resolves with its incarnation, or undefined when it did not answer in time. A few
   * pings per member may wait at once: a lost one must not hold back the next period's.
   */
  async ping (id: string, timeoutMs: number, signal: AbortSignal): Promise<number | undefined> {
    const waiting = this.inFlight.get(id) ?? 0
    if (waiting >= MAX_PINGS_IN_FLIGHT) return undefined
    this.inFlight.set(id, waiting + 1)
    const options = { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }
    let json: JsonStream | undefined
    try {
      const peer = peerIdFromString(id)
      // no dial here: MemberConnections keeps the members this node watches connected
      const connection = this.libp2p.getConnections(peer)[0]
      if (connection == null) return undefined
      json = new JsonStream(await connection.newStream(PING_PROTOCOL, options), { maxBytes: MAX_PING_BYTES })
      await json.write({ v: 1 }, options)
      const ack = await json.read(ackSchema, options)
      return ack.incarnation
    } catch (err) {
      this.log.trace({ member: id, err }, 'ping unanswered')
      return undefined
    } finally {
      const left = (this.inFlight.get(id) ?? 1) - 1
      if (left > 0) this.inFlight.set(id, left)
      else this.inFlight.delete(id)
      if (json != null) void json.close()
    }
  }

  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: MAX_PING_BYTES })
    const signal = AbortSignal.timeout(5000)
    try {
      await json.read(pingSchema, { signal })
      await json.write({ v: 1, incarnation: this.incarnation() }, { signal })
      await json.close()
    } catch (err) {
      this.rejections.reject(PING_PROTOCOL, 'malformed', connection.remotePeer.toString(), 'dropped malformed member ping', String(err), { err })
      stream.abort(err as Error)
    }
  }
}
