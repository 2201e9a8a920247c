import type { Connection, Stream } from '@libp2p/interface'
import { syncMessageSchema } from './schema.ts'
import type { MemberEntry, SyncMessage } from './schema.ts'
import { SYNC_PROTOCOL, MAX_SYNC_BYTES } from './constants.ts'
import { JsonStream } from '../transport/json-stream.ts'
import type { Logger } from '../logger.ts'
import { ProtocolError } from '../errors.ts'
import type { MembershipLibp2p, MembershipRoles } from './components.ts'
import { guarded } from '../trust/guard.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'
import { PeerBudget } from '../transport/peer-budget.ts'

const SYNC_TIMEOUT_MS = 5000
/** Syncs one connection may have open at once: a connection opens with one (the dialler's); a second covers a reconnect. */
const MAX_INBOUND_SYNCS = 2
/**
 * A peer's syncs answered at most one per this long: each is up to 4 MiB read and a whole table
 * written back, and a connection only starts one when it opens (more is a peer making us work).
 */
export const SYNC_MIN_INTERVAL_MS = 2000

/**
 * Push-pull join sync: when a connection opens, the dialling side sends its
 * full table and receives the other's, so a joiner learns every member at once.
 */
export class MemberSync {
  private readonly libp2p: Pick<MembershipLibp2p, 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener'>
  private readonly roles: MembershipRoles
  private readonly log: Logger
  private readonly rejections: Rejections
  private readonly snapshot: () => MemberEntry[]
  private readonly onEntries: (entries: MemberEntry[], from: string) => void
  /** One answered sync per peer per SYNC_MIN_INTERVAL_MS. */
  private readonly answered = new PeerBudget({ perSecond: 1000 / SYNC_MIN_INTERVAL_MS, burst: 1 })

  constructor (libp2p: MemberSync['libp2p'], roles: MembershipRoles, log: Logger, rejections: Rejections, snapshot: () => MemberEntry[], onEntries: (entries: MemberEntry[], from: string) => void) {
    this.libp2p = libp2p
    this.roles = roles
    this.log = log
    this.rejections = rejections
    this.snapshot = snapshot
    this.onEntries = onEntries
  }

  async start (): Promise<void> {
    const handler = guarded(this.roles, SYNC_PROTOCOL, ['member'], async (stream, connection) => { await this.answer(stream, connection) }, { deadlineMs: SYNC_TIMEOUT_MS })
    await this.libp2p.handle(SYNC_PROTOCOL, handler, { maxInboundStreams: MAX_INBOUND_SYNCS })
    this.libp2p.addEventListener('connection:open', this.onConnectionOpen)
  }

  async stop (): Promise<void> {
    this.libp2p.removeEventListener('connection:open', this.onConnectionOpen)
    await this.libp2p.unhandle(SYNC_PROTOCOL)
  }

  /** The dialling side of every new connection starts the exchange. */
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    // only members hold a table; a CLI client (or an agent-only certificate) is not asked
    if (evt.detail.direction === 'outbound' && this.roles.has(evt.detail.remotePeer.toString(), 'member', evt.detail)) void this.exchange(evt.detail)
  }

  /** Exchange tables with the peer on the other end of `connection`. */
  async exchange (connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS)
    let json: JsonStream | undefined
    try {
      const stream = await connection.newStream(SYNC_PROTOCOL, { signal })
      json = new JsonStream(stream, { maxBytes: MAX_SYNC_BYTES })
      await json.write(this.message(), { signal })
      const reply = await json.read(syncMessageSchema, { signal })
      this.deliver(reply.members, from)
    } catch (err) {
      // a member's reply that is too large or off-schema is a bad message; CLI clients
      // do not speak the protocol at all, which is no news
      if (err instanceof ProtocolError) this.rejections.reject(SYNC_PROTOCOL, 'malformed', from, 'dropped malformed member sync reply', err.message, { err })
      else this.log.debug({ peer: from, err }, 'member sync failed')
    } finally {
      await json?.close()
    }
  }

  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    if (!this.due(from)) {
      this.rejections.reject(SYNC_PROTOCOL, 'too-often', from, 'refused a member sync: this peer had one answered moments ago', `within ${SYNC_MIN_INTERVAL_MS} ms`)
      stream.abort(new ProtocolError(`one member sync per ${SYNC_MIN_INTERVAL_MS} ms`))
      return
    }
    // the guard's deadline (SYNC_TIMEOUT_MS) aborts the stream, which ends any of these, whatever it waits for
    const json = new JsonStream(stream, { maxBytes: MAX_SYNC_BYTES })
    let request: SyncMessage
    try {
      request = await json.readLast(syncMessageSchema)
      await json.write(this.message())
      await json.close()
    } catch (err) {
      // a stream that ended or was reset under the request (a connection cut mid-sync) is no bad message
      this.rejections.reject(SYNC_PROTOCOL, streamFailure(err), from, 'dropped a member sync request', String(err), { err })
      stream.abort(err as Error)
      return
    }
    this.deliver(request.members, from)
  }

  /** Whether a sync from `peer` is answered now (and if so, notes it). */
  private due (peer: string): boolean {
    if (this.answered.waitMs(peer) > 0) return false
    this.answered.charge(peer, 1)
    return true
  }

  /** Remote data into the table: whatever it trips is logged and dropped, never a crash. */
  private deliver (entries: MemberEntry[], from: string): void {
    try {
      this.onEntries(entries, from)
    } catch (err) {
      this.rejections.reject(SYNC_PROTOCOL, 'handler', from, 'member sync failed in its handler', String(err), { err })
    }
  }

  private message (): SyncMessage {
    return { v: 1, members: this.snapshot() }
  }
}
