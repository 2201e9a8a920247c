import { describe, it, expect, afterEach, vi } from 'vitest'
import { EventEmitter } from 'node:events'
import { generateKeyPairSync } from 'node:crypto'
import { streamPair } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as v from 'valibot'
import type { Connection } from '@libp2p/interface'
import { Channels, CLIENT_READ_CHANNELS, CLIENT_READ_IDLE_MS, CLIENT_READ_OPENS } from '../../../src/channels/channels.ts'
import { channelClientHandler } from '../../../src/channels/client-protocol.ts'
import type { ClientChannels } from '../../../src/channels/client-protocol.ts'
import { topicOf } from '../../../src/channels/schema.ts'
import type { ClientRequest } from '../../../src/channels/schema.ts'
import type { GridLibp2p } from '../../../src/transport/libp2p.ts'
import type { MemberSource } from '../../../src/membership/events.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { ChannelLimitError } from '../../../src/errors.ts'
import { trustEveryone } from '../trust-stub.ts'
import { identity } from './identity.ts'
import type { Entry } from '../../../src/channels/store.ts'
import type { Channel } from '../../../src/channels/channel.ts'

const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const client = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const keyPem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()

/** Gossipsub as Channels uses it, alone in the grid: subscriptions are kept, nobody else subscribes. */
class LonePubsub extends EventTarget {
  readonly topicValidators = new Map<string, unknown>()
  readonly subscribed = new Set<string>()
  subscribe (topic: string): void { this.subscribed.add(topic) }
  unsubscribe (topic: string): void { this.subscribed.delete(topic) }
  getSubscribers (): [] { return [] }
  async publish (): Promise<void> {}
}

let stop: (() => Promise<void>) | undefined
afterEach(async () => { await stop?.(); stop = undefined; vi.useRealTimers() })

/** A node's channels with maxChannels 2 and its channel client handler wired as node.ts wires them. */
async function node (roles = trustEveryone()): Promise<{ channels: Channels, pubsub: LonePubsub, ask: (request: ClientRequest, from?: typeof client) => Promise<unknown> }> {
  const pubsub = new LonePubsub()
  const libp2p = { peerId: self, services: { pubsub }, handle: async () => {}, unhandle: async () => {}, dialProtocol: async () => { throw new Error('alone') } } as unknown as GridLibp2p
  const membership = Object.assign(new EventEmitter(), { members: () => [] }) as unknown as MemberSource
  const log = resolveLogger()
  const channels = new Channels(libp2p, membership, { maxChannels: 2, syncIntervalMs: 60_000 }, log, keyPem, roles, () => true)
  await channels.start()
  stop = async () => { await channels.stop() }
  const wiring: ClientChannels = { read: (name, peer) => channels.forRead(name, peer), write: name => channels.channel(name) }
  const handler = channelClientHandler(wiring, trustEveryone(['client']), new Rejections(log))
  const ask = async (request: ClientRequest, from = client): Promise<unknown> => {
    const [outbound, inbound] = await streamPair()
    const handled = handler(inbound, { remotePeer: from } as unknown as Connection)
    const json = new JsonStream(outbound)
    await json.write(request)
    const reply = await json.read(v.unknown())
    await handled
    return reply
  }
  return { channels, pubsub, ask }
}

describe('client reads of channels not open here', () => {
  it('do not use up maxChannels: after a client\'s gets of a and b, the app still opens its two channels', async () => {
    const { channels, ask } = await node()
    expect(await ask({ op: 'get', channel: 'a', key: 'k' })).toMatchObject({ ok: true, found: false })
    expect(await ask({ op: 'list', channel: 'b' })).toMatchObject({ ok: true, entries: [] })
    expect(channels.channel('app').name).toBe('app')
    expect(channels.channel('other').name).toBe('other')
    expect(() => channels.channel('third')).toThrow(ChannelLimitError)
    // a client-certificate write is still refused, and opens nothing
    expect(await ask({ op: 'set', channel: 'c', key: 'k', value: 1 })).toMatchObject({ ok: false, error: { code: 'ERR_FORBIDDEN' } })
    expect(channels.isOpen('c')).toBe(false)
  })

  it('are served from the channel the app has open, and the app takes over one a client opened', async () => {
    const { channels, pubsub, ask } = await node()
    channels.channel('app').set('k', 'v')
    expect(await ask({ op: 'get', channel: 'app', key: 'k' })).toMatchObject({ ok: true, found: true, value: 'v' })
    await ask({ op: 'list', channel: 'shared' })
    const taken = channels.channel('shared') // counted now (2 of 2), and never closed for idleness
    expect(channels.forRead('shared')).toBe(taken)
    expect(() => channels.channel('third')).toThrow(ChannelLimitError)
    for (let i = 0; i < CLIENT_READ_CHANNELS + 1; i++) await ask({ op: 'list', channel: `r${i}` }, i < CLIENT_READ_CHANNELS ? client : other)
    expect(pubsub.subscribed.has(topicOf('shared'))).toBe(true)
  })

  it('are bounded: the least recently read is closed (unsubscribed) for another, and any unread for a while', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] })
    const { channels, pubsub, ask } = await node()
    for (let i = 0; i < CLIENT_READ_CHANNELS; i++) await ask({ op: 'list', channel: `r${i}` })
    await ask({ op: 'get', channel: 'r0', key: 'k' }) // r0 read again: r1 is now the least recent
    await ask({ op: 'list', channel: 'extra' }, other) // another client: this one has used its 8 opens
    expect(channels.isOpen('r1')).toBe(false)
    expect(pubsub.subscribed.has(topicOf('r1'))).toBe(false)
    expect(pubsub.topicValidators.has(topicOf('r1'))).toBe(false)
    expect(channels.isOpen('r0')).toBe(true)
    expect([...pubsub.subscribed]).toHaveLength(CLIENT_READ_CHANNELS)
    vi.advanceTimersByTime(CLIENT_READ_IDLE_MS + 60_000)
    expect(pubsub.subscribed.size).toBe(0)
  })

  it('one peer opens at most CLIENT_READ_OPENS.burst of them at once, then a few a minute (ERR_RATE_LIMITED): each opening makes every member holding the channel ship all of it here', async () => {
    const { channels, ask } = await node()
    for (let i = 0; i < CLIENT_READ_OPENS.burst; i++) expect(await ask({ op: 'list', channel: `n${i}` })).toMatchObject({ ok: true })
    expect(await ask({ op: 'list', channel: 'n-more' })).toMatchObject({ ok: false, error: { code: 'ERR_RATE_LIMITED' } })
    expect(channels.isOpen('n-more')).toBe(false)
    // what is open already is read at no cost, and another peer has its own budget
    expect(await ask({ op: 'get', channel: `n${CLIENT_READ_OPENS.burst - 1}`, key: 'k' })).toMatchObject({ ok: true })
    expect(await ask({ op: 'list', channel: 'n-more' }, other)).toMatchObject({ ok: true })
  })
})

it('a snapshot relaying writes of an origin this node dropped (revoked or expired) has them refused, whoever relays it; the others are merged', async () => {
  const revoked = identity()
  const fine = identity()
  const roles = { ...trustEveryone(), wasDropped: (peer: string) => peer === revoked.id }
  const { channels } = await node(roles)
  const channel = channels.channel('app')
  const write = (who: ReturnType<typeof identity>, key: string): Entry => {
    const e: Entry = { key, value: 'v', deleted: false, t: Date.now(), c: 0, origin: who.id }
    e.sig = who.sign('app', e)
    return e
  }
  const merge = (channels as unknown as { merge: (c: Channel, entries: Entry[], peer: string, via: string) => void }).merge.bind(channels)
  merge(channel, [write(revoked, 'evil'), write(fine, 'good')], 'relaying-member', 'snapshot')
  expect(channel.has('evil')).toBe(false)
  expect(channel.get('good')).toBe('v')
  expect(channels.rejected()).toContainEqual(expect.objectContaining({ reason: 'forbidden', count: 1 }))
})

