import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub, Message, SubscriptionChangeData } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { GridLibp2p } from '../transport/libp2p.ts'
import { parseJson } from '../transport/json-stream.ts'
import { ChannelReplica, REMOTE_CAP_FACTOR } from './channel.ts'
import type { Channel } from './channel.ts'
import type { Entry } from './store.ts'
import { HlcClock } from './hlc.ts'
import { PeerBudget } from '../transport/peer-budget.ts'
import { ClockWatch } from './clock-watch.ts'
import { ChannelSync } from './sync.ts'
import { openingSync } from './opening.ts'
import { CHANNEL_NAME, GOSSIP_LABEL, SYNC_PROTOCOL, channelMessageSchema, topicOf } from './schema.ts'
import type { ChannelMessage } from './schema.ts'
import { entrySigner, verifyEntry } from './signature.ts'
import { CHANNEL_DEFAULTS } from './defaults.ts'
import type { MergeResult } from './channel.ts'
import { ChannelLimitError, ConfigError, NodeStoppedError, RateLimitedError } from '../errors.ts'
import { Rejections } from '../transport/rejections.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import type { Logger } from '../logger.ts'
import type { RoleCheck as ChannelRoles } from '../trust/credentials.ts'
import { gossipRefusal, droppedGossipLine } from '../trust/gossip-roles.ts'
import type { MemberSource } from '../membership/events.ts'
import type { Member } from '../membership/member.ts'
import type { ChannelsInit } from './config.ts'

export type { ChannelsInit }

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const TOPIC_PREFIX = 'gridd/channel/'
/**
 * Channels opened for `grid channel get|list` of a channel not open here: outside `maxChannels`, the
 * least recently read closed when another is needed, and any closed once unread this long. (Opened
 * for good, any certificate that may read could use up `maxChannels` with 256 names until a restart.)
 */
export const CLIENT_READ_CHANNELS = 8
export const CLIENT_READ_IDLE_MS = 5 * 60_000
/**
 * Channels one peer's reads may open here: 32 at once, then 4 a minute. Each opening subscribes, and every
 * member holding the channel answers with all of it: a client reading names in rotation must not make the
 * grid ship whole channels to this node in a loop.
 */
export const CLIENT_READ_OPENS = { burst: 32, perSecond: 4 / 60 }

/**
 * The channels of one node: gossip per channel (`gridd/channel/<name>`,
 * validated, malformed messages logged and rejected), and snapshot exchange
 * (see ChannelSync) when a channel opens, when a member that has it open
 * subscribes or connects, when a member joins or comes back, and every
 * `syncIntervalMs` with one random member, so lost gossip heals by itself.
 */
export class Channels {
  private readonly libp2p: GridLibp2p
  private readonly pubsub: GossipSub
  private readonly log: Logger
  private readonly clock = new HlcClock()
  private readonly clockWatch: ClockWatch
  private readonly open = new Map<string, ChannelReplica>()
  private readonly valid = new WeakMap<Uint8Array, ChannelMessage>()
  private readonly sync: ChannelSync
  private readonly maxValueBytes: number
  private readonly maxChannels: number
  /** Channels the node opened for itself: outside the `maxChannels` count. */
  private readonly internal = new Set<string>()
  /** Channels opened for client reads, by name: when last read (ms); least recently read first. */
  private readonly readOnly = new Map<string, number>()
  private readonly readOpens = new PeerBudget(CLIENT_READ_OPENS)
  private readonly maxKeysPerChannel: number
  private readonly maxChannelBytes: number
  private readonly sign: (channel: string, entry: Entry) => string
  private readonly rejections: Rejections
  private readonly tombstoneTtlMs: number
  private readonly syncIntervalMs: number
  private readonly membership: MemberSource
  private readonly roles: ChannelRoles
  private readonly alone: () => boolean
  private timer?: NodeJS.Timeout
  private running = false

  /**
   * `keyPem`: the node's Ed25519 key (its certificate's), which signs every write of this node. `alone`:
   * whether the node was given no peer to join (a channel opened with no member known is ready at once).
   */
  constructor (libp2p: GridLibp2p, membership: MemberSource, init: ChannelsInit, log: Logger, keyPem: string, roles: ChannelRoles, alone: () => boolean) {
    this.libp2p = libp2p
    this.roles = roles
    this.alone = alone
    this.pubsub = libp2p.services.pubsub
    this.membership = membership
    this.log = log.child({ component: 'channels' })
    this.rejections = new Rejections(this.log)
    this.sign = entrySigner(keyPem)
    this.maxValueBytes = init.maxValueBytes ?? CHANNEL_DEFAULTS.maxValueBytes
    this.maxChannels = init.maxChannels ?? CHANNEL_DEFAULTS.maxChannels
    this.maxKeysPerChannel = init.maxKeysPerChannel ?? CHANNEL_DEFAULTS.maxKeysPerChannel
    this.maxChannelBytes = init.maxChannelBytes ?? CHANNEL_DEFAULTS.maxChannelBytes
    this.tombstoneTtlMs = init.tombstoneTtlMs ?? 10 * 60_000
    this.syncIntervalMs = init.syncIntervalMs ?? 10_000
    this.clockWatch = new ClockWatch(this.clock.maxDriftMs, this.log)
    this.sync = new ChannelSync(libp2p, roles, this.log, this.rejections, {
      clock: (peer, theirNow, sentAt) => { this.clockWatch.sample(peer, theirNow, sentAt) },
      lookup: name => this.open.get(name),
      merge: (channel, entries, peer) => this.merge(channel, entries, peer, 'snapshot'),
      maxMessageBytes: init.syncMessageBytes ?? CHANNEL_DEFAULTS.syncMessageBytes,
      // a member holds up to REMOTE_CAP_FACTOR times the cap (others' writes), and sends all of it
      maxEntries: this.maxKeysPerChannel * REMOTE_CAP_FACTOR,
      maxBytes: this.maxChannelBytes * REMOTE_CAP_FACTOR
    })
  }

  /** Bad channel messages dropped so far, by protocol and reason (`gridd_rejected_messages_total`). */
  rejected (): RejectedCount[] {
    return this.rejections.counters()
  }

  /** Whether `name` is open here (for the app, an add-on, the node itself or a client's read). */
  isOpen (name: string): boolean {
    return this.open.has(name)
  }

  async start (): Promise<void> {
    this.running = true
    this.pubsub.addEventListener('message', this.onMessage)
    this.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    await this.sync.start()
    // a member that appears or comes back may hold writes we missed, or miss ours
    this.membership.on('member:join', this.onMemberAppeared)
    this.membership.on('member:rejoin', this.onMemberAppeared)
    this.timer = setInterval(() => { this.antiEntropy() }, this.syncIntervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    this.membership.off('member:join', this.onMemberAppeared)
    this.membership.off('member:rejoin', this.onMemberAppeared)
    this.pubsub.removeEventListener('message', this.onMessage)
    this.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    for (const name of this.open.keys()) {
      this.pubsub.topicValidators.delete(topicOf(name))
      try { this.pubsub.unsubscribe(topicOf(name)) } catch {}
    }
    await this.sync.stop()
  }

  /**
   * The channel `name`, opened (subscribed, and synced from members) on first use. `internal`: one
   * the node itself keeps open (the deployments'), not counted against `maxChannels`.
   */
  channel (name: string, options: { internal?: boolean } = {}): Channel {
    checkName(name)
    const channel = this.open.get(name)
    // one opened for client reads is taken over: counted, and never closed
    if (channel != null && !this.readOnly.has(name)) return channel
    if (!this.running) throw new NodeStoppedError()
    if (options.internal !== true && this.open.size - this.internal.size - this.readOnly.size >= this.maxChannels) throw new ChannelLimitError('channels', this.maxChannels, name)
    if (options.internal === true) this.internal.add(name)
    if (channel != null) {
      this.readOnly.delete(name)
      return channel
    }
    return this.openChannel(name)
  }

  /**
   * The channel `name` for a client read (`grid channel get|list`): the open one, or one opened
   * apart from `maxChannels` (CLIENT_READ_CHANNELS at most, closed when idle or least recently read).
   */
  forRead (name: string, peer?: string): Channel {
    checkName(name)
    const channel = this.open.get(name)
    if (channel != null) {
      if (this.readOnly.delete(name)) this.readOnly.set(name, Date.now())
      return channel
    }
    if (!this.running) throw new NodeStoppedError()
    if (peer != null) {
      const waitMs = this.readOpens.waitMs(peer)
      if (waitMs > 0) throw new RateLimitedError(waitMs)
      this.readOpens.charge(peer, 1)
    }
    const oldest = this.readOnly.keys().next()
    if (this.readOnly.size >= CLIENT_READ_CHANNELS && oldest.done !== true) this.close(oldest.value)
    this.readOnly.set(name, Date.now())
    return this.openChannel(name)
  }

  /** Stops replicating `name` here (a read-only channel): unsubscribed, no more exchanges; a read still holding it keeps its data. */
  private close (name: string): void {
    this.open.delete(name)
    this.readOnly.delete(name)
    this.pubsub.topicValidators.delete(topicOf(name))
    try { this.pubsub.unsubscribe(topicOf(name)) } catch {}
  }

  private openChannel (name: string): ChannelReplica {
    const channel = new ChannelReplica(name, {
      selfId: this.libp2p.peerId.toString(),
      clock: this.clock,
      maxValueBytes: this.maxValueBytes,
      publish: entries => { void this.publish(name, entries) },
      running: () => this.running,
      sign: this.sign,
      verify: verifyEntry,
      maxKeys: this.maxKeysPerChannel,
      maxBytes: this.maxChannelBytes,
      clockAheadForMs: () => this.clockWatch.aheadForMs(),
      log: this.log
    })
    this.open.set(name, channel)
    this.pubsub.topicValidators.set(topicOf(name), (peer, message) => this.validate(peer, message))
    this.pubsub.subscribe(topicOf(name))
    void openingSync(channel, {
      subscribers: () => this.pubsub.getSubscribers(topicOf(name)).map(p => p.toString()),
      members: () => this.members(),
      alone: this.alone,
      // a read-only channel closed meanwhile is asked about no more
      exchange: async peer => this.open.get(name) === channel ? await this.sync.exchange(channel, peer) : 'closed',
      running: () => this.running && this.open.get(name) === channel
    })
    return channel
  }

  /** A member appeared or came back: it may hold writes we missed, or miss ours. */
  memberAppeared (id: string): void {
    for (const channel of this.open.values()) void this.sync.exchange(channel, id)
  }

  private readonly onMemberAppeared = (member: Member): void => {
    this.guarded('membership', member.id, () => { this.memberAppeared(member.id) })
  }

  /** Runs a callback that touches remote data: a throw is counted and logged (rate-limited), never a crash. */
  private guarded (protocol: string, peer: string | undefined, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.rejections.reject(protocol, 'handler', peer, 'channel handler failed on a remote message', String(err), { err })
    }
  }

  /** Alive members' ids: whom to ask for snapshots. */
  private members (): string[] {
    return this.membership.members().filter(m => m.state === 'alive').map(m => m.id)
  }

  private antiEntropy (): void {
    const now = Date.now()
    for (const [name, readAt] of this.readOnly) if (now - readAt > CLIENT_READ_IDLE_MS) this.close(name)
    for (const channel of this.open.values()) {
      channel.expire(this.tombstoneTtlMs)
      const subscribers = this.pubsub.getSubscribers(topicOf(channel.name)).map(p => p.toString())
      const peers = subscribers.length > 0 ? subscribers : this.members()
      const peer = peers[Math.floor(Math.random() * peers.length)]
      if (peer != null) void this.sync.exchange(channel, peer)
    }
  }

  /** A member subscribed to a channel we have open (it opened it, or its connection is new): exchange with it. */
  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    this.guarded(GOSSIP_LABEL, undefined, () => {
      const { peerId, subscriptions } = evt.detail
      for (const { topic, subscribe } of subscriptions) {
        const channel = subscribe && topic.startsWith(TOPIC_PREFIX) ? this.open.get(topic.slice(TOPIC_PREFIX.length)) : undefined
        if (channel != null) void this.sync.exchange(channel, peerId.toString())
      }
    })
  }

  private merge (channel: ChannelReplica, entries: Entry[], peer: string, via: 'gossip' | 'snapshot'): MergeResult {
    const protocol = via === 'gossip' ? GOSSIP_LABEL : SYNC_PROTOCOL
    // a snapshot relays writes of any origin: one this node dropped (a revoked or expired certificate) or knows
    // to lack the member role is refused here as its own gossip is, whichever member hands it over
    const admitted = entries.filter(e => this.mayWrite(e.origin))
    if (admitted.length < entries.length) this.rejections.reject(protocol, 'forbidden', peer, 'dropped channel writes: by an origin whose certificate was revoked or expired, or that lacks the member role', `${entries.length - admitted.length} in ${channel.name}`, { channel: channel.name, via })
    const result = channel.merge(admitted)
    const dropped: Array<[keyof MergeResult, string]> = [
      ['tooLarge', 'values over this node\'s limit'], ['drift', 'stamps too far ahead of its clock'],
      ['forged', 'writes without a valid signature of their origin'], ['full', 'channel at its key or byte cap']
    ]
    for (const [reason, what] of dropped) {
      if (result[reason] > 0) this.rejections.reject(protocol, reason, peer, `dropped channel writes: ${what}`, `${result[reason]} in ${channel.name}`, { channel: channel.name, via })
    }
    if (result.changed > 0 && via === 'snapshot') this.log.debug({ channel: channel.name, peer, changed: result.changed }, 'merged a channel snapshot')
    return result
  }

  private mayWrite (origin: string): boolean {
    return !this.roles.wasDropped(origin) && (this.roles.get(origin)?.roles.has('member') ?? true)
  }

  private async publish (name: string, entries: Entry[]): Promise<void> {
    try {
      await this.pubsub.publish(topicOf(name), encoder.encode(JSON.stringify({ v: 1, channel: name, entries })))
    } catch (err) {
      this.log.debug({ channel: name, err }, 'channel write not published (no peers yet: snapshots will carry it)')
    }
  }

  private validate (peer: PeerId, message: Message): TopicValidatorResult {
    const result = gossipRefusal(this.roles, peer.toString(), message) ?? this.check(message)
    if ('reason' in result) {
      const from = message.type === 'signed' ? message.from.toString() : peer.toString()
      this.rejections.reject(GOSSIP_LABEL, result.reason, from, droppedGossipLine('channel message', result.reason, result.detail), result.detail, { via: peer.toString(), topic: message.topic, bytes: message.data.byteLength })
      return TopicValidatorResult.Reject
    }
    this.valid.set(message.data, result)
    return TopicValidatorResult.Accept
  }

  private check (message: Message): ChannelMessage | Refusal {
    if (message.type !== 'signed') return { reason: 'unsigned', detail: 'unsigned message' }
    // each entry is bounded by the value limit; a message carries a few
    const limit = 4 * (this.maxValueBytes + 1024)
    if (message.data.byteLength > limit) return { reason: 'size', detail: `${message.data.byteLength} bytes exceeds the ${limit} byte limit` }
    let parsed: ChannelMessage
    try {
      parsed = parseJson(decoder.decode(message.data), channelMessageSchema)
    } catch (err) {
      const detail = (err as Error).message
      return { reason: /not valid JSON/.test(detail) ? 'json' : 'schema', detail }
    }
    if (topicOf(parsed.channel) !== message.topic) return { reason: 'topic', detail: 'names another channel than its topic' }
    // gossip carries only its signer's own writes (snapshots relay others', checked by their signatures)
    if (parsed.entries.some(e => e.origin !== message.from.toString())) return { reason: 'author', detail: 'carries writes it did not author' }
    return parsed
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (!message.topic.startsWith(TOPIC_PREFIX) || message.type !== 'signed') return
    this.guarded(GOSSIP_LABEL, message.from.toString(), () => {
      const parsed = this.valid.get(message.data) ?? this.check(message)
      if ('reason' in parsed) return
      const channel = this.open.get(parsed.channel)
      if (channel != null) this.merge(channel, parsed.entries as Entry[], message.from.toString(), 'gossip')
    })
  }
}

function checkName (name: string): void {
  if (typeof name !== 'string' || !CHANNEL_NAME.test(name)) throw new ConfigError('channel', `name must match ${String(CHANNEL_NAME)}, got ${JSON.stringify(name)}`)
}

/** Why a message is refused: `reason` is the counter's label, `detail` the log's. */
interface Refusal { reason: string, detail: string }
