import { it, expect, beforeEach, afterEach, vi } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Connection, Libp2p, Stream, StreamHandler } from '@libp2p/interface'
import { encode } from 'uint8-varint'
import { ChannelSync } from '../../../src/channels/sync.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { SYNC_PROTOCOL, syncAnswerSchema } from '../../../src/channels/schema.ts'
import { CHANNEL_DEFAULTS } from '../../../src/channels/defaults.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { trustEveryone } from '../trust-stub.ts'
import { yamuxStreamPair } from '../owner/stubs.ts'

const member = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
let handler: StreamHandler
let rejections: Rejections
let sync: ChannelSync
const held: Stream[] = []

beforeEach(async () => {
  const libp2p = { handle: async (_protocol: string, h: StreamHandler) => { handler = h }, unhandle: async () => {} } as unknown as Libp2p
  const log = resolveLogger()
  rejections = new Rejections(log)
  const channel = new ChannelReplica('c'.repeat(64), { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true })
  sync = new ChannelSync(libp2p, trustEveryone(), log, rejections, { lookup: () => channel, merge: () => undefined, maxMessageBytes: CHANNEL_DEFAULTS.syncMessageBytes, maxEntries: 65_536, maxBytes: 1024 * 1024 })
  await sync.start()
})

afterEach(async () => {
  for (const stream of held.splice(0)) stream.abort(new Error('test over'))
  await sync.stop()
})

/** A sync stream from the member to this node: the member's end. */
async function open (): Promise<Stream> {
  const [outbound, inbound] = await yamuxStreamPair()
  held.push(outbound, inbound)
  void handler(inbound, { remotePeer: member } as unknown as Connection)
  return outbound
}

/** How `stream` ended ('reset' if the far side reset it), or 'open' if it had not within `ms`. */
async function ending (stream: Stream, ms: number): Promise<string> {
  if (stream.status !== 'open') return stream.status === 'reset' || stream.status === 'aborted' ? 'reset' : 'closed'
  return await new Promise(resolve => {
    const timer = setTimeout(() => { resolve('open') }, ms)
    stream.addEventListener('close', evt => { clearTimeout(timer); resolve(evt.error == null ? 'closed' : 'reset') }, { once: true })
  })
}

it('a sync ask announced at a snapshot chunk\'s size (4 MiB) is refused from its length, counted, instead of read on each stream until the 30 s deadline', async () => {
  const stream = await open()
  stream.send(encode(CHANNEL_DEFAULTS.syncMessageBytes))
  stream.send(new Uint8Array(256 * 1024).fill(0x20))
  expect(await ending(stream, 5000)).toBe('reset')
  await vi.waitFor(() => { expect(rejections.counters()).toContainEqual({ protocol: SYNC_PROTOCOL, reason: 'malformed', count: 1 }) })
})

it('the largest ask a member sends (every name and digest at its bound) is still answered', async () => {
  const json = new JsonStream(await open())
  await json.write({ v: 2, channel: 'c'.repeat(64), digest: 'd'.repeat(64), now: Date.now(), known: 'k'.repeat(64), closing: true })
  expect(await json.read(syncAnswerSchema, { signal: AbortSignal.timeout(5000) })).toMatchObject({ open: true })
})
