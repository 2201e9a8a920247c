import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { JsonStream } from '../transport/json-stream.ts'
import { ProtocolError } from '../errors.ts'
import { SYNC_PROTOCOL, syncAnswerSchema, syncAskSchema, syncChunkSchema, syncClosingSchema } from './schema.ts'
import type { ChannelReplica, MergeResult } from './channel.ts'
import { entryBytes, markOf } from './store.ts'
import type { Entry, WriteMark } from './store.ts'
import { Lanes } from './lanes.ts'
import { SettledPairs } from './settled.ts'
import type { Logger } from '../logger.ts'
import type { RoleCheck as ChannelRoles } from '../trust/credentials.ts'
import { guarded } from '../trust/guard.ts'
import type { Rejections } from '../transport/rejections.ts'

const EXCHANGE_TIMEOUT_MS = 30_000

/** How an exchange with one peer went: it had the channel open, it answered it has not, or no answer came. */
export type ExchangeOutcome = 'open' | 'closed' | 'failed'
/** Room in a chunk for the envelope around its entries. */
const ENVELOPE_BYTES = 1024
/**
 * Sync streams one peer may hold open here at once (libp2p's default is 32), and exchanges this node
 * runs with one peer at once. Each can hold a message of up to maxMessageBytes (4 MiB) being read.
 */
export const SYNC_STREAMS_PER_PEER = 8
/**
 * An ask is a channel name and up to two digests (64 characters each, the schema's bound), a clock and a flag:
 * under 400 bytes as a legitimate member writes it. Read within this, not maxMessageBytes (4 MiB), so a member
 * cannot make this node buffer a chunk's worth on each stream it opens before anything is known of it.
 */
const MAX_ASK_BYTES = 4096

export interface ChannelSyncInit {
  lookup: (name: string) => ChannelReplica | undefined
  /** Merges a chunk; what it refused for a stamp ahead of this node's clock (`drift`) keeps the pair from settling (settled.ts). */
  merge: (channel: ChannelReplica, entries: Entry[], peer: string) => Pick<MergeResult, 'drift'> | undefined
  /** Largest single message; snapshots larger than this come in several. */
  maxMessageBytes: number
  /** Most entries one side may send in one exchange (what a member may hold of a channel): a bound on a stream's length. */
  maxEntries: number
  /** Most bytes (as the channel byte cap counts them) one side may send in one exchange: a bound on the time and memory a peer's stream costs. */
  maxBytes: number
  /** A peer's wall time, read in an exchange this node started at `sentAt` (its own clock). */
  clock?: (peer: string, theirNow: number, sentAt: number) => void
}

/**
 * Snapshot exchange (`/gridd/channel/sync/2.0.0`): digests first, so two
 * members that already agree swap a few bytes; otherwise the answering side
 * sends everything it holds of the channel, tombstones included, in bounded
 * chunks, and the asking side merges each chunk and sends back only what the
 * answer lacked (chunked the same way), and the answering side closes with
 * its digest as that left it (settled.ts). One exchange leaves both sides with
 * the same writes. Writes are signed by their origin, so relaying is safe:
 * the merge drops any write whose signature does not check.
 */
export class ChannelSync {
  private readonly libp2p: Libp2p
  private readonly roles: ChannelRoles
  private readonly log: Logger
  private readonly rejections: Rejections
  private readonly init: ChannelSyncInit
  /** One exchange per channel and peer at a time: triggers come in bursts (join, subscribe, rejoin). */
  private readonly inFlight = new Map<string, { channel: ChannelReplica, done: Promise<ExchangeOutcome> }>()
  private readonly lanes = new Lanes(SYNC_STREAMS_PER_PEER)
  /** Peers whose digests stay apart from ours after an exchange (settled.ts): not exchanged again while neither changes. */
  private readonly settled = new SettledPairs()

  constructor (libp2p: Libp2p, roles: ChannelRoles, log: Logger, rejections: Rejections, init: ChannelSyncInit) {
    this.libp2p = libp2p
    this.roles = roles
    this.log = log
    this.rejections = rejections
    this.init = init
  }

  async start (): Promise<void> {
    await this.libp2p.handle(SYNC_PROTOCOL, guarded(this.roles, SYNC_PROTOCOL, ['member'], async (stream, connection) => { await this.answer(stream, connection.remotePeer.toString()) }), { maxInboundStreams: SYNC_STREAMS_PER_PEER })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(SYNC_PROTOCOL).catch(() => {})
  }

  /**
   * Exchanges `channel` with `peer`: 'open' when the peer had it open and the exchange got through, 'closed'
   * when it answered that it has not, 'failed' when no answer came (a reset, a timeout, a peer not dialled yet).
   * Never rejects (a peer may be gone, or a CLI client).
   */
  async exchange (channel: ChannelReplica, peer: string): Promise<ExchangeOutcome> {
    // only members hold channels; a member learnt from the table but not dialled yet has no verified certificate yet
    if (!this.roles.has(peer, 'member')) return 'failed'
    const id = `${channel.name}\0${peer}`
    let running = this.inFlight.get(id)
    // one of a channel closed since (a client read's) would not fill the one opened again under its name
    if (running?.channel !== channel) {
      const done = this.lanes.run(peer, async () => await this.ask(channel, peer)).finally(() => {
        if (this.inFlight.get(id)?.done === done) this.inFlight.delete(id)
      })
      running = { channel, done }
      this.inFlight.set(id, running)
    }
    return await running.done
  }

  private async ask (channel: ChannelReplica, peer: string): Promise<ExchangeOutcome> {
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
    let json: JsonStream | undefined
    try {
      const stream = await this.libp2p.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal })
      json = new JsonStream(stream, { maxBytes: this.init.maxMessageBytes })
      const digest = channel.digest()
      const known = this.settled.known(channel, peer, digest)
      const sentAt = Date.now()
      await json.write({ v: 2, channel: channel.name, digest, now: sentAt, closing: true, ...(known == null ? {} : { known }) }, { signal })
      const answer = await json.read(syncAnswerSchema, { signal })
      if (answer.now != null) this.init.clock?.(peer, answer.now, sentAt)
      if (!answer.open || answer.digest === digest) { this.settled.forget(channel, peer); return answer.open ? 'open' : 'closed' }
      // apart as the last exchange left us, and neither side changed since: it would move nothing again
      if (answer.settled === true && known != null && answer.digest === known) return 'open'
      const theirs = new Map<string, WriteMark>()
      const { drift } = await this.receiveChunks(json, answer, channel, peer, theirs, signal)
      // our digest as the delta leaves us: a write that comes in while it is sent changes ours, and is not taken as settled
      const delta = channel.newerThan(theirs)
      const mine = channel.digest()
      await this.sendChunks(json, delta, {}, signal)
      const after = answer.closing === true ? (await json.read(syncClosingSchema, { signal })).digest : undefined
      // a refusal for a stamp ahead of a clock is lifted by time alone, no digest changing: exchanged in full again
      if (after != null && drift === 0) this.settled.remember(channel, peer, mine, after)
      else this.settled.forget(channel, peer)
      return 'open'
    } catch (err) {
      // a reset, not a close: the peer may still be sending, and nothing of it is wanted
      json?.stream.abort(err as Error)
      if (err instanceof ProtocolError) this.rejections.reject(SYNC_PROTOCOL, 'malformed', peer, 'dropped a malformed channel snapshot', err.message, { channel: channel.name, err })
      else this.log.debug({ channel: channel.name, peer, err }, 'channel snapshot exchange failed')
      return 'failed'
    } finally {
      await json?.close().catch(() => {})
    }
  }

  private async answer (stream: Stream, peer: string): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: this.init.maxMessageBytes })
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
    try {
      const ask = await json.read(syncAskSchema, { signal, maxBytes: MAX_ASK_BYTES })
      const channel = this.init.lookup(ask.channel)
      const digest = channel?.digest() ?? ''
      if (channel == null || digest === ask.digest) {
        await json.write({ v: 2, open: channel != null, digest, entries: [], more: false, now: Date.now() }, { signal })
      } else if (ask.known === digest) {
        // the asker holds what our snapshot would bring and we refused what it sent back: nothing to redo
        await json.write({ v: 2, open: true, digest, entries: [], more: false, now: Date.now(), settled: true }, { signal })
      } else {
        const closing = ask.closing === true
        await this.sendChunks(json, channel.snapshot(), { open: true, digest, now: Date.now(), ...(closing ? { closing } : {}) }, signal)
        const first = await json.read(syncChunkSchema, { signal })
        const { drift, alone } = await this.receiveChunks(json, first, channel, peer, undefined, signal, digest)
        // our digest for the asker to remember, if it holds what our snapshot held and only its delta changed ours since
        if (closing) await json.write({ v: 2, ...(drift === 0 && alone ? { digest: channel.digest() } : {}) }, { signal })
      }
      await json.close()
    } catch (err) {
      this.rejections.reject(SYNC_PROTOCOL, err instanceof ProtocolError ? 'malformed' : 'failed', peer, 'dropped a channel snapshot exchange', String(err), { err })
      stream.abort(err as Error)
    }
  }

  /**
   * Merges chunks as they come (from `first` on), bounded by maxEntries and maxBytes; `theirs` (the
   * asking side's, for the delta back) gets each write's stamp and hash, never its value. Returns the
   * writes refused for drift, and whether the channel's digest changed only by these merges since `since`.
   */
  private async receiveChunks (json: JsonStream, first: { entries: unknown[], more: boolean }, channel: ChannelReplica, peer: string, theirs: Map<string, WriteMark> | undefined, signal: AbortSignal, since?: string): Promise<{ drift: number, alone: boolean }> {
    let chunk = first
    let count = 0
    let bytes = 0
    let drift = 0
    let alone = true
    let last = since
    for (;;) {
      const entries = chunk.entries as Entry[]
      count += entries.length
      if (count > this.init.maxEntries) throw new ProtocolError(`snapshot of more than ${this.init.maxEntries} entries`)
      for (const e of entries) bytes += entryBytes(e)
      if (bytes > this.init.maxBytes) throw new ProtocolError(`snapshot of more than ${this.init.maxBytes} bytes`)
      if (theirs != null) for (const e of entries) theirs.set(e.key, markOf(e))
      if (channel.digest() !== last) alone = false
      drift += this.init.merge(channel, entries, peer)?.drift ?? 0
      last = channel.digest()
      if (!chunk.more) return { drift, alone }
      chunk = await json.read(syncChunkSchema, { signal })
    }
  }

  /** Sends `entries` as chunks of at most maxMessageBytes; `header` fields go in every chunk (the answer's open and digest). */
  private async sendChunks (json: JsonStream, entries: Entry[], header: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const budget = this.init.maxMessageBytes - ENVELOPE_BYTES
    let chunk: Entry[] = []
    let bytes = 0
    const flush = async (more: boolean): Promise<void> => {
      await json.write({ v: 2, ...header, entries: chunk, more }, { signal })
      chunk = []
      bytes = 0
    }
    for (const entry of entries) {
      const size = Buffer.byteLength(JSON.stringify(entry)) + 1
      // cannot happen while maxMessageBytes leaves room for one value (the config checks it)
      if (size > budget) continue
      if (bytes + size > budget) await flush(true)
      chunk.push(entry)
      bytes += size
    }
    await flush(false)
  }
}
