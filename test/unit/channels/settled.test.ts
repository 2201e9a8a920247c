import { describe, it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Connection, Libp2p, StreamHandler } from '@libp2p/interface'
import { ChannelSync } from '../../../src/channels/sync.ts'
import { SettledPairs, SETTLED_RECHECK_MS } from '../../../src/channels/settled.ts'
import { Channel } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import type { Entry } from '../../../src/channels/store.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { trustEveryone } from '../trust-stub.ts'

const newId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

interface Replica { id: string, channel: Channel, sync: ChannelSync, handler?: StreamHandler, snapshots: number, refused: number }

/**
 * Two members' channel replicas whose exchanges run over in-memory streams. `refuses` is an origin
 * whose writes `a` refuses at merge, as Channels.merge refuses a writer whose certificate this node
 * dropped (revoked or expired) while the other member still holds them.
 */
async function pair (refuses: string): Promise<[Replica, Replica]> {
  const replicas: Replica[] = []
  for (const name of ['a', 'b']) {
    const id = await newId()
    const channel = new Channel('cfg', { selfId: id, clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true })
    const replica: Replica = { id, channel, sync: undefined as unknown as ChannelSync, snapshots: 0, refused: 0 }
    const snapshot = channel.snapshot.bind(channel)
    channel.snapshot = () => { replica.snapshots++; return snapshot() }
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
        replica.refused += entries.length - admitted.length
        c.merge(admitted)
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

describe('SettledPairs', () => {
  const channel = new Channel('cfg', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true })

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
