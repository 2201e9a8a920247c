import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { JsonStream } from '../transport/json-stream.ts'
import { SYNC_PROTOCOL, syncAnswerSchema, syncAskSchema, syncDeltaSchema } from './schema.ts'
import type { Channel } from './channel.ts'
import type { Entry } from './store.ts'
import type { Logger } from '../logger.ts'

/** A whole channel in one message: channels hold coordination state, not bulk data. */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
const EXCHANGE_TIMEOUT_MS = 30_000

/**
 * Snapshot exchange (`/gridd/channel/sync/1.0.0`): digests first, so two
 * members that already agree swap a few bytes; otherwise the answering side
 * sends everything it holds of the channel, tombstones included, and the
 * asking side merges it and sends back only what the answer lacked. One
 * exchange leaves both sides with the same writes.
 */
export class ChannelSync {
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly lookup: (name: string) => Channel | undefined
  private readonly merge: (channel: Channel, entries: Entry[], peer: string) => void
  /** One exchange per channel and peer at a time: triggers come in bursts (join, subscribe, rejoin). */
  private readonly inFlight = new Map<string, Promise<void>>()

  constructor (libp2p: Libp2p, log: Logger, lookup: (name: string) => Channel | undefined, merge: (channel: Channel, entries: Entry[], peer: string) => void) {
    this.libp2p = libp2p
    this.log = log
    this.lookup = lookup
    this.merge = merge
  }

  async start (): Promise<void> {
    await this.libp2p.handle(SYNC_PROTOCOL, async (stream, connection) => { await this.answer(stream, connection.remotePeer.toString()) })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(SYNC_PROTOCOL).catch(() => {})
  }

  /** Exchanges `channel` with `peer`; never rejects (a peer may be gone, or a CLI client). */
  async exchange (channel: Channel, peer: string): Promise<void> {
    const id = `${channel.name}\0${peer}`
    let running = this.inFlight.get(id)
    if (running == null) {
      running = this.ask(channel, peer).finally(() => { this.inFlight.delete(id) })
      this.inFlight.set(id, running)
    }
    await running
  }

  private async ask (channel: Channel, peer: string): Promise<void> {
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
    let json: JsonStream | undefined
    try {
      const stream = await this.libp2p.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal })
      json = new JsonStream(stream, { maxBytes: MAX_SNAPSHOT_BYTES })
      const digest = channel.digest()
      await json.write({ v: 1, channel: channel.name, digest }, { signal })
      const answer = await json.read(syncAnswerSchema, { signal })
      if (!answer.open || answer.digest === digest) return
      const theirs = answer.entries as Entry[]
      this.merge(channel, theirs, peer)
      await json.write({ v: 1, entries: channel.newerThan(theirs) }, { signal })
    } catch (err) {
      this.log.debug({ channel: channel.name, peer, err }, 'channel snapshot exchange failed')
    } finally {
      await json?.close()
    }
  }

  private async answer (stream: Stream, peer: string): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: MAX_SNAPSHOT_BYTES })
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
    try {
      const ask = await json.read(syncAskSchema, { signal })
      const channel = this.lookup(ask.channel)
      const digest = channel?.digest() ?? ''
      if (channel == null || digest === ask.digest) {
        await json.write({ v: 1, open: channel != null, digest, entries: [] }, { signal })
      } else {
        await json.write({ v: 1, open: true, digest, entries: channel.snapshot() }, { signal })
        const delta = await json.read(syncDeltaSchema, { signal })
        this.merge(channel, delta.entries as Entry[], peer)
      }
      await json.close()
    } catch (err) {
      this.log.warn({ peer, err }, 'dropped a malformed channel snapshot')
      stream.abort(err as Error)
    }
  }
}
