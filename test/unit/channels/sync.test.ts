import { describe, it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Libp2p, Stream } from '@libp2p/interface'
import { ChannelSync } from '../../../src/channels/sync.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { syncAskSchema, syncChunkSchema, SYNC_PROTOCOL } from '../../../src/channels/schema.ts'
import type { Entry } from '../../../src/channels/store.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { trustEveryone } from '../trust-stub.ts'

const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const channelBytes = 100_000

/** An asking node (ChannelSync) whose one dial reaches `inbound`, where the test plays a hostile member answering. */
async function asker (): Promise<{ sync: ChannelSync, channel: ChannelReplica, inbound: Stream, rejections: Rejections, merged: () => number, refused: () => number, delta: () => Map<string, unknown> | undefined }> {
  const [outbound, inbound] = await streamPair()
  const libp2p = { dialProtocol: async () => outbound } as unknown as Libp2p
  const log = resolveLogger()
  const rejections = new Rejections(log)
  const channel = new ChannelReplica('cfg', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true, maxBytes: channelBytes })
  let merged = 0
  let refused = 0
  let delta: Map<string, unknown> | undefined
  const newerThan = channel.newerThan.bind(channel)
  channel.newerThan = theirs => { delta = theirs as Map<string, unknown>; return newerThan(theirs) }
  const sync = new ChannelSync(libp2p, trustEveryone(), log, rejections, {
    lookup: () => channel,
    merge: (c, entries) => { merged += entries.length; refused += c.merge(entries).tooLarge },
    maxMessageBytes: 1024 * 1024,
    maxEntries: 65_536,
    maxBytes: 2 * channelBytes
  })
  return { sync, channel, inbound, rejections, merged: () => merged, refused: () => refused, delta: () => delta }
}

/** Writes over the limit of the asking node (1 KiB): each merge refuses them (`tooLarge`). */
function oversized (from: number, n: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, value: 'x'.repeat(5000), deleted: false, t: Date.now(), c: 0, origin: peer, sig: 'AA==' }))
}

describe('snapshot exchange against a hostile answer', () => {
  it('the asking side keeps stamps and hashes of what came, not the values (refused ones included)', async () => {
    const { sync, channel, inbound, refused, delta } = await asker()
    const json = new JsonStream(inbound, { maxBytes: 8 * 1024 * 1024 })
    const exchange = sync.exchange(channel, peer)
    await json.read(syncAskSchema)
    await json.write({ v: 2, open: true, digest: 'theirs', entries: oversized(0, 10), more: true })
    await json.write({ v: 2, entries: oversized(10, 10), more: false })
    expect(await json.read(syncChunkSchema)).toMatchObject({ entries: [], more: false })
    await exchange
    const held = [...delta()!.values()]
    expect(held).toHaveLength(20)
    expect(held.filter(mark => typeof mark !== 'object' || mark == null || 'value' in mark)).toEqual([])
    expect(refused()).toBe(20)
    expect(channel.size).toBe(0)
  })

  it('an answer streaming more than twice the channel byte cap is cut off, not read to its end', async () => {
    const { sync, channel, inbound, rejections, merged } = await asker()
    const json = new JsonStream(inbound, { maxBytes: 8 * 1024 * 1024 })
    let done = false
    const exchange = sync.exchange(channel, peer).finally(() => { done = true })
    await json.read(syncAskSchema)
    // 100 chunks of 10 entries of 5 KB (5 MB): far past 2 × 100 KB
    let sent = 0
    try {
      await json.write({ v: 2, open: true, digest: 'theirs', entries: oversized(0, 10), more: true })
      for (sent = 1; sent < 100 && !done; sent++) {
        await Promise.race([json.write({ v: 2, entries: oversized(sent * 10, 10), more: true }), exchange])
        await new Promise(resolve => setImmediate(resolve))
      }
    } catch {}
    await exchange
    inbound.abort(new Error('test over'))
    expect(merged()).toBeLessThanOrEqual(2 * channelBytes / 5000)
    expect(rejections.counters()).toContainEqual({ protocol: SYNC_PROTOCOL, reason: 'malformed', count: 1 })
    expect(sent).toBeLessThan(100)
  })
})

it('admits few sync streams per connection, and asks one peer no more at once (the rest wait their turn)', async () => {
  const handled: Array<{ maxInboundStreams?: number }> = []
  const dials: Array<() => void> = []
  let open = 0
  let most = 0
  const libp2p = {
    handle: async (_protocol: string, _handler: unknown, options: { maxInboundStreams?: number }) => { handled.push(options) },
    // every dial hangs until released: how many run at once is what is counted
    dialProtocol: async () => {
      most = Math.max(most, ++open)
      await new Promise<void>(resolve => dials.push(resolve))
      open--
      throw new Error('refused')
    }
  } as unknown as Libp2p
  const log = resolveLogger()
  const sync = new ChannelSync(libp2p, trustEveryone(), log, new Rejections(log), { lookup: () => undefined, merge: () => {}, maxMessageBytes: 1024 * 1024, maxEntries: 10, maxBytes: 10_000 })
  await sync.start()
  const width = handled[0]!.maxInboundStreams!
  expect(width).toBeLessThanOrEqual(8)
  const channels = Array.from({ length: 20 }, (_, i) => new ChannelReplica(`c${i}`, { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true }))
  const all = Promise.all(channels.map(async c => { await sync.exchange(c, peer) }))
  const ticks = async (n: number): Promise<void> => { for (let i = 0; i < n; i++) await new Promise(resolve => setImmediate(resolve)) }
  await ticks(20)
  expect(open).toBe(width)
  for (let released = 0; released < 20; released++) {
    while (dials.length === 0) await ticks(1)
    dials.shift()!()
    await ticks(5)
  }
  await all
  expect(most).toBe(width)
})

it('an exchange of a channel closed since does not stand in for one of the channel opened again under its name', async () => {
  let dials = 0
  const libp2p = { dialProtocol: async () => { dials++; throw new Error('refused') } } as unknown as Libp2p
  const log = resolveLogger()
  const sync = new ChannelSync(libp2p, trustEveryone(), log, new Rejections(log), { lookup: () => undefined, merge: () => {}, maxMessageBytes: 1024 * 1024, maxEntries: 10, maxBytes: 10_000 })
  const make = (): ChannelReplica => new ChannelReplica('cfg', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true })
  const [closed, reopened] = [make(), make()]
  await Promise.all([sync.exchange(closed, peer), sync.exchange(closed, peer), sync.exchange(reopened, peer)])
  expect(dials).toBe(2)
})
