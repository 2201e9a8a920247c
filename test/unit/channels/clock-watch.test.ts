import { describe, it, expect } from 'vitest'
import pino from 'pino'
import { streamPair } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Libp2p } from '@libp2p/interface'
import { ClockWatch } from '../../../src/channels/clock-watch.ts'
import { ChannelSync } from '../../../src/channels/sync.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { syncAskSchema } from '../../../src/channels/schema.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { trustEveryone } from '../trust-stub.ts'

function logged (): { log: pino.Logger, lines: Array<{ level: number, msg: string }> } {
  const lines: Array<{ level: number, msg: string }> = []
  return { lines, log: pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as { level: number, msg: string }) } }) }
}

describe('ClockWatch', () => {
  it('is ahead only while its clock runs more than maxDrift ahead of most peers sampled in the last 5 minutes, and says so once', () => {
    let now = 1_000_000_000
    const { log, lines } = logged()
    const watch = new ClockWatch(60_000, log, () => now)
    expect(watch.ahead()).toBe(false)
    watch.sample('B', now - 1000)
    watch.sample('A', now - 120_000)
    expect(watch.ahead()).toBe(false) // one of two: not most
    watch.sample('C', now - 90_000, now - 200) // asked 200 ms ago: the middle of the round trip
    expect(watch.ahead()).toBe(true)
    now += 30_000
    expect(watch.aheadForMs()).toBe(30_000)
    expect(lines.filter(l => l.level === 50).map(l => l.msg)).toEqual([expect.stringMatching(/clock runs more than 60 s ahead of most of its peers/)])
    expect(lines.filter(l => l.level === 40).map(l => l.msg)).toEqual([
      expect.stringMatching(/^this node's clock is 120 s ahead of peer A's/),
      expect.stringMatching(/^this node's clock is 90 s ahead of peer C's/)
    ])
    // the clock put right: fresh samples agree, the old ones age out
    now += 6 * 60_000
    watch.sample('B', now)
    expect(watch.ahead()).toBe(false)
    expect(watch.aheadForMs()).toBe(0)
    expect(lines.some(l => l.level === 30 && /agrees with its peers' again/.test(l.msg))).toBe(true)
  })

  it('a peer far ahead is warned about (its writes are refused here), at most every 10 minutes, and does not make this node ahead', () => {
    let now = 1_000_000_000
    const { log, lines } = logged()
    const watch = new ClockWatch(60_000, log, () => now)
    watch.sample('F', now + 120_000)
    watch.sample('F', now + 120_000)
    expect(watch.ahead()).toBe(false)
    expect(lines.filter(l => l.level === 40).map(l => l.msg)).toEqual([expect.stringMatching(/^peer F's clock is 120 s ahead of this node's/)])
    now += 10 * 60_000
    watch.sample('F', now + 120_000)
    expect(lines.filter(l => l.level === 40)).toHaveLength(2)
  })
})

it('a snapshot exchange carries each side\'s wall time, read by the other side\'s clock watch', async () => {
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const [outbound, inbound] = await streamPair()
  const channel = new ChannelReplica('cfg', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true })
  const samples: Array<{ peer: string, theirNow: number, sentAt?: number }> = []
  const log = resolveLogger()
  const sync = new ChannelSync({ dialProtocol: async () => outbound } as unknown as Libp2p, trustEveryone(), log, new Rejections(log), {
    lookup: () => channel,
    merge: () => {},
    maxMessageBytes: 1024 * 1024,
    maxEntries: 100,
    maxBytes: 100_000,
    clock: (from, theirNow, sentAt) => { samples.push({ peer: from, theirNow, sentAt }) }
  })
  const json = new JsonStream(inbound)
  const exchange = sync.exchange(channel, peer)
  const ask = await json.read(syncAskSchema)
  expect(Math.abs(ask.now! - Date.now())).toBeLessThan(5000)
  const theirNow = Date.now() + 3_600_000
  await json.write({ v: 2, open: true, digest: channel.digest(), entries: [], more: false, now: theirNow })
  await exchange
  expect(samples).toEqual([{ peer, theirNow, sentAt: ask.now }])
})
