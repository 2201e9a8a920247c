import { describe, it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Connection, Libp2p, StreamHandler } from '@libp2p/interface'
import { ChannelSync } from '../../../src/channels/sync.ts'
import { SettledPairs, SETTLED_RECHECK_MS } from '../../../src/channels/settled.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import type { Entry } from '../../../src/channels/store.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { trustEveryone } from '../trust-stub.ts'

const newId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

interface Replica {
  id: string
  channel: ChannelReplica
  sync: ChannelSync
  handler?: StreamHandler
  snapshots: number
  refused: number
  /** How far ahead of the real one this replica's wall clock runs (ms). */
  aheadMs: number
  /** Runs once, just after this replica's next snapshot is taken (a write that comes in by gossip meanwhile). */
  afterSnapshot?: () => void
}

/**
 * Two members' channel replicas whose exchanges run over in-memory streams. `refuses` is an origin
 * whose writes `a` refuses at merge, as Channels.merge refuses a writer whose certificate this node
 * dropped (revoked or expired) while the other member still holds them.
 */
async function pair (refuses?: string): Promise<[Replica, Replica]> {
  const replicas: Replica[] = []
  for (const name of ['a', 'b']) {
    const id = await newId()
    const replica: Replica = { id, channel: undefined as unknown as ChannelReplica, sync: undefined as unknown as ChannelSync, snapshots: 0, refused: 0, aheadMs: 0 }
    const clock = new HlcClock({ now: () => Date.now() + replica.aheadMs })
    const channel = replica.channel = new ChannelReplica('cfg', { selfId: id, clock, maxValueBytes: 1024, publish: () => {}, running: () => true })
    const snapshot = channel.snapshot.bind(channel)
    channel.snapshot = () => {
      replica.snapshots++
      const taken = snapshot()
      const hook = replica.afterSnapshot
      replica.afterSnapshot = undefined
      hook?.()
      return taken
    }
    const libp2p = {
      handle: async (_protocol: string, handler: StreamHandler) => { replica.handler = handler },
      unhandle: async () => {},
      dialProtocol: async () => {
        const other = replicas.find(r => r !== replica)!
        const [outbound, inbound] = await streamPair()
        void other.handler!(inbound, { remotePeer: peerIdFromPrivateKey(await generateKeyPair('Ed25519')) } as unknown as Connection)
        return outbound
      }
    } as unknown as Libp2p
    const log = resolveLogger()
    replica.sync = new ChannelSync(libp2p, trustEveryone(), log, new Rejections(log), {
      lookup: () => channel,
      merge: (c, entries) => {
        const admitted = name === 'a' ? entries.filter(e => e.origin !== refuses) : entries
        const result = c.merge(admitted)
        replica.refused += entries.length - admitted.length + result.drift
        return result
      },
      maxMessageBytes: 1024 * 1024,
      maxEntries: 1000,
      maxBytes: 1_000_000
    })
    await replica.sync.start()
    replicas.push(replica)
  }
  return replicas as [Replica, Replica]
}

describe('two replicas kept apart by writes one of them refuses', () => {
  it('stop shipping snapshots after one exchange each way while neither changes; a new write is exchanged again', async () => {
    const dropped = await newId()
    const [a, b] = await pair(dropped)
    a.channel.set('shared', 1)
    b.channel.merge(a.channel.snapshot())
    // a write b took up before its writer's certificate was dropped; a refuses it
    const write: Entry = { key: 'by-dropped', value: 'x', deleted: false, t: Date.now(), c: 0, origin: dropped }
    b.channel.merge([write])
    a.snapshots = b.snapshots = 0
    for (let round = 0; round < 6; round++) {
      await a.sync.exchange(a.channel, b.id)
      await b.sync.exchange(b.channel, a.id)
    }
    // still apart (a refuses what b holds), but only the first exchange each way shipped anything
    expect(a.channel.digest()).not.toBe(b.channel.digest())
    expect(b.snapshots + a.snapshots).toBe(2)
    expect(a.refused).toBe(2)
    // a change on either side is news: exchanged again, and the new write arrives
    b.channel.set('later', 2)
    await a.sync.exchange(a.channel, b.id)
    expect(a.channel.get('later')).toBe(2)
    expect(b.snapshots).toBe(2)
  })
})

describe('a settled pair', () => {
  it('settles after one exchange: the answering side\'s digest remembered is the one after it took up the delta', async () => {
    const dropped = await newId()
    const [a, b] = await pair(dropped)
    b.channel.merge([{ key: 'by-dropped', value: 'x', deleted: false, t: Date.now(), c: 0, origin: dropped }])
    // a holds a write b lacks: the delta back changes b's digest
    a.channel.set('only-a', 1)
    for (let round = 0; round < 3; round++) await a.sync.exchange(a.channel, b.id)
    expect(b.channel.get('only-a')).toBe(1)
    expect(a.channel.digest()).not.toBe(b.channel.digest())
    // one snapshot: before, the digest b had before the delta was remembered, so the second round shipped one again
    expect(b.snapshots).toBe(1)
  })

  it('is not settled by writes refused for a stamp ahead of the asker\'s clock: they are taken up once its clock catches up', async () => {
    const [a, b] = await pair()
    b.aheadMs = 120_000
    b.channel.set('ahead', 1)
    a.snapshots = b.snapshots = 0
    await a.sync.exchange(a.channel, b.id)
    expect(a.refused).toBe(1)
    expect(a.channel.get('ahead')).toBeUndefined()
    // the clocks agree again (NTP stepped b back, or a's caught up): no digest changed, the next round heals
    a.aheadMs = 120_000
    await a.sync.exchange(a.channel, b.id)
    expect(a.channel.get('ahead')).toBe(1)
  })

  it('is not settled by writes the answering side refused for a stamp ahead of its clock', async () => {
    const [a, b] = await pair()
    a.aheadMs = 120_000
    a.channel.set('ahead', 1)
    await a.sync.exchange(a.channel, b.id)
    expect(b.refused).toBe(1)
    expect(b.channel.get('ahead')).toBeUndefined()
    b.aheadMs = 120_000
    await a.sync.exchange(a.channel, b.id)
    expect(b.channel.get('ahead')).toBe(1)
  })

  it('is not settled when a write the asker lacks reached the answering side during the exchange', async () => {
    const dropped = await newId()
    const other = await newId()
    const [a, b] = await pair(dropped)
    b.channel.merge([{ key: 'by-dropped', value: 'x', deleted: false, t: Date.now(), c: 0, origin: dropped }])
    // gossip b hears between its snapshot and a's delta, and a misses
    b.afterSnapshot = () => { b.channel.merge([{ key: 'late', value: 'y', deleted: false, t: Date.now(), c: 0, origin: other }]) }
    await a.sync.exchange(a.channel, b.id)
    expect(a.channel.get('late')).toBeUndefined()
    await a.sync.exchange(a.channel, b.id)
    expect(a.channel.get('late')).toBe('y')
  })
})

describe('SettledPairs', () => {
  const channel = new ChannelReplica('cfg', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true })

  it('offers the peer\'s digest only while ours is unchanged, and not past the recheck', () => {
    let now = 0
    const pairs = new SettledPairs(() => now)
    pairs.remember(channel, 'p', 'mine', 'theirs')
    expect(pairs.known(channel, 'p', 'mine')).toBe('theirs')
    expect(pairs.known(channel, 'p', 'changed')).toBeUndefined()
    expect(pairs.known(channel, 'q', 'mine')).toBeUndefined()
    now = SETTLED_RECHECK_MS
    expect(pairs.known(channel, 'p', 'mine')).toBeUndefined()
  })

  it('remembers nothing for digests that met', () => {
    const pairs = new SettledPairs(() => 0)
    pairs.remember(channel, 'p', 'mine', 'theirs')
    pairs.remember(channel, 'p', 'same', 'same')
    expect(pairs.known(channel, 'p', 'same')).toBeUndefined()
    expect(pairs.known(channel, 'p', 'mine')).toBeUndefined()
  })
})
