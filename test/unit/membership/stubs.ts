import { trustEveryone } from '../trust-stub.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { streamPair } from '@libp2p/utils'
import * as v from 'valibot'
import { UnsupportedProtocolError } from '@libp2p/interface'
import type { Connection, PeerId, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import type { Membership } from '../../../src/membership/membership.ts'
import { MEMBER_EVENT_TYPES } from '../../../src/membership/events.ts'
import type { Member } from '../../../src/membership/member.ts'
import type { MembershipComponents, MembershipLibp2p, MembershipPubsub } from '../../../src/membership/components.ts'
import { MEMBERS_TOPIC } from '../../../src/membership/constants.ts'
import type { Heartbeat, MemberEntry } from '../../../src/membership/schema.ts'
import { entry } from './helpers.ts'
import type { Overrides } from './helpers.ts'

export async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:4100'), { code: 'ECONNREFUSED' })

/**
 * The libp2p membership uses, stubbed (js-libp2p's test style): no sockets.
 * Dials are recorded and succeed (the peer counts as connected) unless
 * `dialOutcome` throws; `disconnect(peer)` plays libp2p's `peer:disconnect`.
 */
export class StubLibp2p extends EventTarget {
  readonly peerId: PeerId
  readonly dials: string[] = []
  readonly hangUps: string[] = []
  readonly protocols = new Set<string>()
  readonly handlers = new Map<string, StreamHandler>()
  readonly handlerOptions = new Map<string, StreamHandlerOptions | undefined>()
  readonly connected = new Set<string>()
  dialOutcome: () => Promise<void> = async () => {}
  readonly peerStore = { merge: async () => ({}) }

  constructor (peerId: PeerId) {
    super()
    this.peerId = peerId
  }

  getMultiaddrs (): ReturnType<MembershipLibp2p['getMultiaddrs']> {
    return [multiaddr(`/ip4/127.0.0.1/tcp/4100/p2p/${this.peerId.toString()}`)]
  }

  getConnections (peer?: PeerId): object[] {
    return peer != null && this.connected.has(peer.toString()) ? [{}] : []
  }

  getPeers (): string[] { return [...this.connected] }

  async dial (peer: PeerId): Promise<object> {
    this.dials.push(peer.toString())
    await this.dialOutcome()
    this.connected.add(peer.toString())
    return {}
  }

  async hangUp (peer: PeerId): Promise<void> {
    this.hangUps.push(peer.toString())
    this.connected.delete(peer.toString())
  }
  async handle (protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void> {
    this.protocols.add(protocol)
    this.handlers.set(protocol, handler)
    this.handlerOptions.set(protocol, options)
  }

  async unhandle (protocols: string | string[]): Promise<void> {
    for (const p of [protocols].flat()) {
      this.protocols.delete(p)
      this.handlers.delete(p)
    }
  }

  /** Plays peer `from` opening `protocol` and sending `request` (any JSON, valid or not); resolves once the node has handled it. */
  async request (protocol: string, from: PeerId, request: unknown): Promise<void> {
    const handler = this.handlers.get(protocol)
    if (handler == null) throw new Error(`nothing handles ${protocol}`)
    const [outbound, inbound] = await streamPair()
    const handled = handler(inbound, { remotePeer: from } as unknown as Connection)
    const json = new JsonStream(outbound, { maxBytes: 8 * 1024 * 1024 })
    await json.write(request)
    // a refused request is answered with a reset: an outcome, not an error here
    await json.read(v.unknown()).catch(() => {})
    await handled
  }

  refuseDials (): void {
    this.dialOutcome = async () => { throw refused() }
  }

  disconnect (peer: PeerId): void {
    this.connected.delete(peer.toString())
    this.dispatchEvent(new CustomEvent('peer:disconnect', { detail: peer }))
  }
}

/** Gossipsub stubbed: what membership publishes is kept; `deliver` runs a signed heartbeat through the topic validator like gossipsub does. */
export class StubPubsub extends EventTarget {
  readonly topicValidators: MembershipPubsub['topicValidators'] = new Map()
  readonly subscribed = new Set<string>()
  readonly published: Heartbeat[] = []

  subscribe (topic: string): void { this.subscribed.add(topic) }
  unsubscribe (topic: string): void { this.subscribed.delete(topic) }

  async publish (_topic: string, data: Uint8Array): Promise<{ recipients: [] }> {
    this.published.push(JSON.parse(new TextDecoder().decode(data)) as Heartbeat)
    return { recipients: [] }
  }

  /** Delivers `heartbeat` as signed by `from`, handed over by `via` (the signer itself unless given); the validator's verdict. */
  async deliver (heartbeat: Heartbeat, from: PeerId, via: PeerId = from): Promise<TopicValidatorResult> {
    const message = { type: 'signed', topic: MEMBERS_TOPIC, data: new TextEncoder().encode(JSON.stringify(heartbeat)), from, sequenceNumber: 0n, signature: new Uint8Array(), key: from.publicKey }
    const verdict = await this.topicValidators.get(MEMBERS_TOPIC)!(via, message as never)
    if (verdict === TopicValidatorResult.Accept) this.dispatchEvent(new CustomEvent('message', { detail: message }))
    return verdict
  }
}

/** The timers a membership test fakes (every clock membership reads). */
export const FAKE_TIMERS: { toFake: Array<'setInterval' | 'clearInterval' | 'setTimeout' | 'clearTimeout' | 'performance' | 'Date'> } = { toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance', 'Date'] }

/** Starts `membership` with every member event it emits pushed onto `events` (type and member id). */
export async function startRecording (membership: Membership, events: Array<{ type: string, id: string }>): Promise<void> {
  for (const type of MEMBER_EVENT_TYPES) membership.on(type, (m: Member) => { events.push({ type, id: m.id }) })
  await membership.start()
}

export function stubComponents (libp2p: StubLibp2p, pubsub: StubPubsub): MembershipComponents {
  return { libp2p: libp2p as unknown as MembershipLibp2p, pubsub: pubsub as unknown as MembershipPubsub, roles: trustEveryone() }
}

let nextSeq = 0

/** A heartbeat `peer` would sign about itself; `seq` rises with every call (as a member's does) unless given. */
export function heartbeatOf (peer: PeerId, overrides: Overrides = {}, extra: Partial<Pick<Heartbeat, 'suspects' | 'hears' | 'seq'>> = {}): Heartbeat {
  const member: MemberEntry = entry(peer.toString(), overrides)
  return { v: 1, seq: extra.seq ?? nextSeq++, member, suspects: extra.suspects ?? [], hears: extra.hears ?? [] }
}

/**
 * A watcher's fake connection to `member`: every `newStream` is one end of an in-memory stream
 * pair whose far end goes to `handler()` (what the member's side handles the protocol with), as
 * from `watcher`; no handler is a protocol the member does not speak.
 */
export function pipedConnection (member: PeerId, watcher: PeerId, handler: () => StreamHandler | undefined): { connection: Connection, opened: () => number } {
  let opened = 0
  const connection = {
    status: 'open',
    remotePeer: member,
    newStream: async (): Promise<Stream> => {
      opened++
      const handle = handler()
      if (handle == null) throw new UnsupportedProtocolError('Protocol selection failed')
      const [outbound, inbound] = await streamPair()
      void handle(inbound, { remotePeer: watcher } as unknown as Connection)
      return outbound
    }
  } as unknown as Connection
  return { connection, opened: () => opened }
}
