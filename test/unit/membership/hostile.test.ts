import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import pino from 'pino'
import * as v from 'valibot'
import type { PeerId } from '@libp2p/interface'
import { Membership } from '../../../src/membership/membership.ts'
import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import type { MembershipConfig } from '../../../src/membership/config.ts'
import { SYNC_PROTOCOL, MEMBERS_TOPIC, MAX_INCARNATION_AHEAD_MS } from '../../../src/membership/constants.ts'
import { heartbeatSchema } from '../../../src/membership/schema.ts'
import type { MemberEntry } from '../../../src/membership/schema.ts'
import { StubLibp2p, StubPubsub, stubComponents, heartbeatOf, newPeerId, FAKE_TIMERS, startRecording } from './stubs.ts'
import { entry } from './helpers.ts'

const HEARTBEAT_MS = 100
const BASE = { heartbeatMs: HEARTBEAT_MS, forgetLeftAfterMs: 2000, reconnectMaxBackoffMs: 400 }
const MAX = Number.MAX_SAFE_INTEGER
const timeout = (): Error => Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })

describe('Membership against a hostile member (stubbed libp2p and gossipsub)', () => {
  let libp2p: StubLibp2p
  let pubsub: StubPubsub
  let membership: Membership
  let config: MembershipConfig
  let a: PeerId
  let rogue: PeerId
  let events: Array<{ type: string, id: string }>

  async function start (init: Parameters<typeof resolveMembershipConfig>[0] = {}): Promise<void> {
    config = resolveMembershipConfig({ ...BASE, ...init })
    membership = new Membership(stubComponents(libp2p, pubsub), config, pino({ level: 'silent' }))
    await startRecording(membership, events)
  }

  beforeEach(async () => {
    vi.useFakeTimers(FAKE_TIMERS)
    libp2p = new StubLibp2p(await newPeerId())
    pubsub = new StubPubsub()
    a = await newPeerId()
    rogue = await newPeerId()
    events = []
  })

  afterEach(() => {
    membership?.destroy()
    vi.useRealTimers()
  })

  const typesFor = (id: PeerId): string[] => events.filter(e => e.id === id.toString()).map(e => e.type)
  const rejected = (protocol: string, reason: string): number => membership.rejected().find(r => r.protocol === protocol && r.reason === reason)?.count ?? 0
  // each from another member: one peer's syncs are answered at most one per SYNC_MIN_INTERVAL_MS
  const sync = async (members: unknown[]): Promise<void> => { await libp2p.request(SYNC_PROTOCOL, await newPeerId(), { v: 1, members }) }
  const about = (peer: PeerId, overrides: Parameters<typeof entry>[1] = {}): MemberEntry => entry(peer.toString(), overrides)
  async function aBeats (ms: number): Promise<void> {
    for (let t = 0; t < ms; t += HEARTBEAT_MS) {
      await pubsub.deliver(heartbeatOf(a), a)
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    }
  }

  it('a sync entry saying a member left or failed is only a hint, at 2^53-1 or at a plausible incarnation: the member stays alive', async () => {
    await start()
    await aBeats(2 * HEARTBEAT_MS)
    await sync([about(a, { state: 'left', incarnation: MAX })])
    await sync([about(a, { state: 'left', incarnation: 1 })])
    await sync([about(a, { state: 'failed', incarnation: 1 })])
    await aBeats(20 * HEARTBEAT_MS)
    expect(typesFor(a)).toEqual(['member:join'])
    expect(membership.members()).toMatchObject([{ id: a.toString(), state: 'alive', incarnation: 0 }])
    expect(rejected(SYNC_PROTOCOL, 'incarnation')).toBe(1)
  })

  it('a failed member is back at once when its own sync row has a higher incarnation; the same row from a third party is only hearsay', async () => {
    await start()
    await aBeats(2 * HEARTBEAT_MS)
    await vi.advanceTimersByTimeAsync(config.suspectAfterMs + config.suspicionMaxMs + 2 * HEARTBEAT_MS)
    expect(typesFor(a)).toEqual(['member:join', 'member:suspect', 'member:fail'])
    await sync([about(a, { incarnation: 5 })])
    expect(typesFor(a)).toEqual(['member:join', 'member:suspect', 'member:fail'])
    await libp2p.request(SYNC_PROTOCOL, a, { v: 1, members: [about(a, { incarnation: 5 })] })
    expect(typesFor(a)).toEqual(['member:join', 'member:suspect', 'member:fail', 'member:rejoin'])
    expect(membership.members()).toMatchObject([{ id: a.toString(), state: 'alive', incarnation: 5 }])
  })

  it('a claim about itself beyond the clock is refused; a plausible one is refuted within the schema', async () => {
    await start()
    await vi.advanceTimersByTimeAsync(0)
    const own = pubsub.published.at(-1)!.member.incarnation
    await sync([about(libp2p.peerId, { state: 'left', incarnation: MAX })])
    await pubsub.deliver(heartbeatOf(a, {}, { suspects: [{ id: libp2p.peerId.toString(), incarnation: MAX, state: 'failed' }] }), a)
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    expect(pubsub.published.at(-1)!.member.incarnation).toBe(own)
    expect(rejected(SYNC_PROTOCOL, 'incarnation')).toBe(1)
    expect(rejected(MEMBERS_TOPIC, 'incarnation')).toBe(1)
    // at the edge of the allowed skew: refuted, and the refutation is a valid heartbeat
    const edge = Date.now() + MAX_INCARNATION_AHEAD_MS
    await sync([about(libp2p.peerId, { state: 'failed', incarnation: edge })])
    await vi.advanceTimersByTimeAsync(0)
    const refutation = pubsub.published.at(-1)!
    expect(refutation.member.incarnation).toBe(edge + 1)
    expect(v.safeParse(heartbeatSchema, refutation).success).toBe(true)
  })

  it('a heartbeat whose incarnation is beyond the clock plus the allowed skew is dropped and counted', async () => {
    await start()
    // an hour ahead: far beyond the allowed skew
    await pubsub.deliver(heartbeatOf(a, { incarnation: Date.now() + 60 * 60_000 }), a)
    expect(membership.members()).toEqual([])
    expect(rejected(MEMBERS_TOPIC, 'incarnation')).toBe(1)
  })

  it('ids that are not peer ids are refused by the sync schema: nothing listed, nothing dialled', async () => {
    await start()
    await sync([entry('not-a-peer-id')])
    await sync([entry('notapeerxd')])
    await vi.advanceTimersByTimeAsync(20 * HEARTBEAT_MS)
    expect(membership.members()).toEqual([])
    expect(libp2p.dials).toEqual([])
    expect(rejected(SYNC_PROTOCOL, 'malformed')).toBe(2)
  })

  it('a timer that trips over remote data logs and goes on (an id the schema missed cannot crash the node)', async () => {
    await start()
    // past the schema on purpose: what the guards are for
    const onSync = (membership as unknown as { onSync: (entries: MemberEntry[], from: string) => void }).onSync.bind(membership)
    expect(() => { onSync([entry('notapeerxd')], rogue.toString()) }).not.toThrow()
    const published = pubsub.published.length
    await vi.advanceTimersByTimeAsync(100 * HEARTBEAT_MS)
    // an idle node gossips at its refresh interval (5 heartbeats here): still ticking
    expect(pubsub.published.length).toBeGreaterThan(published + 5)
  })

  it('a replayed heartbeat (seq not beyond the highest heard) is dropped: a silent member is not kept alive', async () => {
    await start()
    const old = heartbeatOf(a)
    await pubsub.deliver(old, a)
    // past the wait for a beat line (none opens here: A only gossips), so A's silence alone counts
    await aBeats(2 * config.suspectAfterMs)
    // last heard a heartbeat ago; the detector ticks every heartbeat / 4
    await vi.advanceTimersByTimeAsync(config.suspectAfterMs - HEARTBEAT_MS + HEARTBEAT_MS / 4)
    expect(typesFor(a)).toEqual(['member:join', 'member:suspect'])
    // gossipsub's seen-cache has forgotten it: the node must not
    await pubsub.deliver(old, a)
    expect(typesFor(a)).toEqual(['member:join', 'member:suspect'])
    expect(rejected(MEMBERS_TOPIC, 'replay')).toBe(1)
    // with no one to confirm, the suspicion lasts its minimum
    await vi.advanceTimersByTimeAsync(config.suspicionMinMs + HEARTBEAT_MS / 4)
    expect(typesFor(a)).toEqual(['member:join', 'member:suspect', 'member:fail'])
  })

  it('a replayed heartbeat of a member that left and was forgotten does not bring it back', async () => {
    await start()
    const old = heartbeatOf(a)
    await pubsub.deliver(old, a)
    await pubsub.deliver(heartbeatOf(a, { state: 'left' }), a)
    await vi.advanceTimersByTimeAsync(2 * config.forgetLeftAfterMs)
    expect(membership.members()).toEqual([])
    await pubsub.deliver(old, a)
    expect(membership.members()).toEqual([])
    expect(typesFor(a)).toEqual(['member:join', 'member:leave'])
    expect(rejected(MEMBERS_TOPIC, 'replay')).toBe(1)
  })

  it('members only others told of that never answer are dropped after a few dials, not redialled for a day', async () => {
    await start()
    libp2p.dialOutcome = async () => { throw timeout() }
    const fakes = await Promise.all(Array.from({ length: 10 }, async () => await newPeerId()))
    await sync(fakes.map(f => about(f)))
    expect(membership.members()).toHaveLength(10)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(membership.members()).toEqual([])
    for (const f of fakes) expect(libp2p.dials.filter(d => d === f.toString()).length).toBeLessThanOrEqual(4)
    const dials = libp2p.dials.length
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(libp2p.dials.length).toBe(dials)
  })

  it('the member table is capped: a sync adds at most maxMembers; a member heard directly takes a hearsay row\'s place', async () => {
    await start({ maxMembers: 5 })
    const fakes = await Promise.all(Array.from({ length: 8 }, async () => await newPeerId()))
    await sync(fakes.map(f => about(f)))
    expect(membership.members()).toHaveLength(5)
    expect(rejected('membership', 'table-full')).toBe(1)
    await pubsub.deliver(heartbeatOf(a), a)
    expect(membership.members()).toHaveLength(5)
    expect(membership.members().map(m => m.id)).toContain(a.toString())
    expect(events.filter(e => e.type === 'member:fail')).toHaveLength(1)
  })

  it('a sync longer than the member cap allows is cut there and counted', async () => {
    await start({ maxMembers: 2 })
    const fakes = await Promise.all(Array.from({ length: 4 }, async () => await newPeerId()))
    await sync(fakes.map(f => about(f)))
    expect(rejected(SYNC_PROTOCOL, 'too-many-entries')).toBe(1)
    expect(membership.members()).toHaveLength(2)
  })
})
