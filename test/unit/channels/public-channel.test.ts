import { it, expect, expectTypeOf } from 'vitest'
import type { Channel, GridNode, AddonHost } from '../../../src/index.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'

type Replication = 'merge' | 'snapshot' | 'digest' | 'newerThan' | 'expire' | 'synced' | 'readyAtBound'

// Checked by `tsc` (vitest strips types): node.channel(name) was typed as the replica class itself, so an app
// saw (and could call) merge, snapshot, digest, newerThan, expire and synced, the replication's own methods:
// a merge of made-up entries, or synced() resolving `ready` before the opening exchange.
it('the Channel apps and add-ons get has the map\'s methods, not the replication\'s', () => {
  expectTypeOf<Extract<keyof Channel, Replication>>().toEqualTypeOf<never>()
  expectTypeOf<ReturnType<GridNode['channel']>>().toEqualTypeOf<Channel>()
  expectTypeOf<ReturnType<AddonHost['channel']>>().toEqualTypeOf<Channel>()
  expectTypeOf<Channel>().toHaveProperty('set')
  expectTypeOf<Channel>().toHaveProperty('ready')
  expectTypeOf<Channel>().toHaveProperty('clockAheadForMs')
  // the replica behind it is the same object as before: a Channel, with its replication methods
  const replica = new ChannelReplica('c', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => true })
  const asChannel: Channel = replica
  asChannel.set('k', 1)
  expect(replica.snapshot().map(e => e.key)).toEqual(['k'])
  expect(asChannel.get('k')).toBe(1)
})
