import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { GridLibp2p } from '../transport/libp2p.ts'
import { JsonStream, parseJson, requestJson } from '../transport/json-stream.ts'
import { Channel } from './channel.ts'
import type { Entry } from './store.ts'
import { HlcClock } from './hlc.ts'
import { CHANNEL_NAME, SYNC_PROTOCOL, channelMessageSchema, syncSchema, topicOf } from './schema.ts'
import type { ChannelMessage } from './schema.ts'
import { ConfigError } from '../errors.ts'
import type { Logger } from '../logger.ts'

export interface ChannelsInit {
  /** Largest serialized value. Default 64 KiB. */
  maxValueBytes?: number
  /** Tombstones older than this are dropped. Default 10 min. */
  tombstoneTtlMs?: number
  /** Anti-entropy: every this often, exchange snapshots with one random member. Default 30 s. */
  syncIntervalMs?: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const SNAPSHOT_BYTES = 64 * 1024 * 1024

/**
 * The channels of one node: gossip per channel (`gridd/channel/<name>`,
 * validated, malformed messages logged and rejected), and snapshot exchange
 * (`/gridd/channel/sync/1.0.0`): each side sends all it holds and merges what
 * it gets, when a channel opens, when a member (re)appears, and now and then.
 */
export class Channels {
  private readonly libp2p: GridLibp2p
  private readonly pubsub: GossipSub
  private readonly log: Logger
  private readonly clock = new HlcClock()
  private readonly open = new Map<string, Channel>()
  private readonly valid = new WeakMap<Uint8Array, ChannelMessage>()
  private readonly maxValueBytes: number
  private readonly tombstoneTtlMs: number
  private readonly syncIntervalMs: number
  private readonly members: () => string[]
  private timer?: NodeJS.Timeout

  constructor (libp2p: GridLibp2p, members: () => string[], init: ChannelsInit, log: Logger) {
    this.libp2p = libp2p
    this.pubsub = libp2p.services.pubsub
    this.members = members
    this.log = log.child({ component: 'channels' })
    this.maxValueBytes = init.maxValueBytes ?? 64 * 1024
    this.tombstoneTtlMs = init.tombstoneTtlMs ?? 10 * 60_000
    this.syncIntervalMs = init.syncIntervalMs ?? 30_000
  }

  async start (): Promise<void> {
    this.pubsub.addEventListener('message', this.onMessage)
    await this.libp2p.handle(SYNC_PROTOCOL, async (stream) => {
      const json = new JsonStream(stream, { maxBytes: SNAPSHOT_BYTES })
      try {
        const theirs = await json.read(syncSchema, { signal: AbortSignal.timeout(10_000) })
        const channel = this.open.get(theirs.channel)
        await json.write({ channel: theirs.channel, entries: channel?.snapshot() ?? [] })
        channel?.merge(theirs.entries as Entry[])
        await json.close()
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'dropped a malformed channel snapshot')
        stream.abort(err as Error)
      }
    })
    this.timer = setInterval(() => { this.antiEntropy() }, this.syncIntervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.pubsub.removeEventListener('message', this.onMessage)
    for (const name of this.open.keys()) {
      this.pubsub.topicValidators.delete(topicOf(name))
      try { this.pubsub.unsubscribe(topicOf(name)) } catch {}
    }
    await this.libp2p.unhandle(SYNC_PROTOCOL).catch(() => {})
  }

  /** The channel `name`, opened (and subscribed, and synced from members) on first use. */
  channel (name: string): Channel {
    if (typeof name !== 'string' || !CHANNEL_NAME.test(name)) throw new ConfigError('channel', `name must match ${String(CHANNEL_NAME)}, got ${JSON.stringify(name)}`)
    let channel = this.open.get(name)
    if (channel != null) return channel
    channel = new Channel(name, {
      selfId: this.libp2p.peerId.toString(),
      clock: this.clock,
      maxValueBytes: this.maxValueBytes,
      publish: entries => { void this.publish(name, entries) }
    })
    this.open.set(name, channel)
    this.pubsub.topicValidators.set(topicOf(name), (peer, message) => this.validate(peer, message))
    this.pubsub.subscribe(topicOf(name))
    // converge without waiting for new writes: exchange with a few members now
    for (const member of this.members().slice(0, 3)) void this.exchange(name, member)
    return channel
  }

  /** A member appeared or came back: exchange every open channel with it. */
  memberAppeared (id: string): void {
    for (const name of this.open.keys()) void this.exchange(name, id)
  }

  /** Sends our snapshot of `name` to `peer` and merges theirs. */
  async exchange (name: string, peer: string): Promise<void> {
    const channel = this.open.get(name)
    if (channel == null) return
    try {
      const theirs = await requestJson(this.libp2p, peerIdFromString(peer), SYNC_PROTOCOL, { channel: name, entries: channel.snapshot() }, syncSchema, { signal: AbortSignal.timeout(10_000) })
      const changed = channel.merge(theirs.entries as Entry[])
      if (changed > 0) this.log.debug({ channel: name, peer, changed }, 'merged a channel snapshot')
    } catch (err) {
      this.log.debug({ channel: name, peer, err: (err as Error).message }, 'channel snapshot exchange failed')
    }
  }

  private antiEntropy (): void {
    const now = Date.now()
    for (const channel of this.open.values()) channel.expire(now, this.tombstoneTtlMs)
    const members = this.members()
    if (members.length === 0) return
    const peer = members[Math.floor(Math.random() * members.length)]!
    for (const name of this.open.keys()) void this.exchange(name, peer)
  }

  private async publish (name: string, entries: Entry[]): Promise<void> {
    try {
      await this.pubsub.publish(topicOf(name), encoder.encode(JSON.stringify({ v: 1, channel: name, entries })))
    } catch (err) {
      this.log.debug({ channel: name, err: (err as Error).message }, 'channel write not published (no peers yet: snapshots will carry it)')
    }
  }

  private validate (peer: PeerId, message: Message): TopicValidatorResult {
    const result = this.check(message)
    if (typeof result === 'string') {
      this.log.warn({ via: peer.toString(), topic: message.topic, bytes: message.data.byteLength, reason: result }, `dropped malformed channel message: ${result}`)
      return TopicValidatorResult.Reject
    }
    this.valid.set(message.data, result)
    return TopicValidatorResult.Accept
  }

  private check (message: Message): ChannelMessage | string {
    if (message.type !== 'signed') return 'unsigned message'
    // each entry is bounded by the value limit; a message carries a few
    const limit = 4 * (this.maxValueBytes + 1024)
    if (message.data.byteLength > limit) return `${message.data.byteLength} bytes exceeds the ${limit} byte limit`
    let parsed: ChannelMessage
    try {
      parsed = parseJson(decoder.decode(message.data), channelMessageSchema)
    } catch (err) {
      return (err as Error).message
    }
    if (topicOf(parsed.channel) !== message.topic) return 'names another channel than its topic'
    if (parsed.entries.some(e => e.origin !== message.from.toString())) return 'carries writes it did not author'
    return parsed
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (!message.topic.startsWith('gridd/channel/') || message.type !== 'signed') return
    const parsed = this.valid.get(message.data) ?? this.check(message)
    if (typeof parsed === 'string') return
    this.open.get(parsed.channel)?.merge(parsed.entries as Entry[])
  }
}
