import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import pino from 'pino'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { Membership } from '../../../src/membership/membership.ts'
import { MembershipCore } from '../../../src/membership/core.ts'
import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import type { MembershipInit } from '../../../src/membership/config.ts'
import { MonitorRing } from '../../../src/membership/ring.ts'
import { MEMBERS_TOPIC } from '../../../src/membership/constants.ts'
import type { MembershipLibp2p, MembershipPubsub } from '../../../src/membership/components.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { StubLibp2p, StubPubsub, heartbeatOf, newPeerId, FAKE_TIMERS, startRecording } from './stubs.ts'
import { entry } from './helpers.ts'

const HEARTBEAT_MS = 100
const member = { name: 'm', serial: '1', roles: new Set(['member'] as const), notAfter: Number.MAX_SAFE_INTEGER }

describe('Membership: heartbeats signed by keys no handshake verified (forged member ids)', () => {
  let libp2p: StubLibp2p
  let pubsub: StubPubsub
  let credentials: PeerCredentials
  let membership: Membership
  let relay: PeerId
  let a: PeerId
  let events: Array<{ type: string, id: string }>

  async function start (maxMembers: number, init: MembershipInit = {}): Promise<void> {
    const config = resolveMembershipConfig({ heartbeatMs: HEARTBEAT_MS, maxMembers, ...init })
    membership = new Membership({ libp2p: libp2p as unknown as MembershipLibp2p, pubsub: pubsub as unknown as MembershipPubsub, roles: credentials }, config, pino({ level: 'silent' }))
    await startRecording(membership, events)
  }

  beforeEach(async () => {
    vi.useFakeTimers(FAKE_TIMERS)
    libp2p = new StubLibp2p(await newPeerId())
    pubsub = new StubPubsub()
    credentials = new PeerCredentials()
    relay = await newPeerId()
    a = await newPeerId()
    // the handshakes this node made: the relaying member and one real member
    credentials.record(relay.toString(), member)
    credentials.record(a.toString(), member)
    events = []
  })

  afterEach(() => {
    membership?.destroy()
    vi.useRealTimers()
  })

  const ids = (): string[] => membership.members().map(m => m.id)
  const row = (peer: PeerId): ReturnType<Membership['members']>[number] | undefined => membership.members().find(m => m.id === peer.toString())
  const typesFor = (peer: PeerId): string[] => events.filter(e => e.id === peer.toString()).map(e => e.type)
  const timedOut = (): Error => Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })
  const tableFull = (): number => membership.rejected().find(r => r.protocol === 'membership' && r.reason === 'table-full')?.count ?? 0

  it('fresh keys a member relays fill no table: a real member\'s heartbeat still gets listed', async () => {
    await start(5)
    const ghosts = await Promise.all(Array.from({ length: 5 }, async () => await newPeerId()))
    for (const ghost of ghosts) expect(await pubsub.deliver(heartbeatOf(ghost), ghost, relay)).toBe(TopicValidatorResult.Accept)
    expect(ids()).toHaveLength(5)
    await pubsub.deliver(heartbeatOf(a), a, relay)
    expect(ids()).toContain(a.toString())
    expect(tableFull()).toBe(0)
  })

  it('a genuine new member is listed at its first heartbeat, and is a member like any other once a handshake verified it', async () => {
    await start(2)
    const [ghost, joiner] = [await newPeerId(), await newPeerId()]
    await pubsub.deliver(heartbeatOf(ghost), ghost, relay)
    await pubsub.deliver(heartbeatOf(joiner), joiner, relay)
    expect(ids().sort()).toEqual([ghost.toString(), joiner.toString()].sort())
    // dialled as hearsay: the handshake records its certificate
    credentials.record(joiner.toString(), member)
    await pubsub.deliver(heartbeatOf(joiner), joiner, relay)
    // a verified member takes a hearsay row's place: the ghost's, not the joiner's
    await pubsub.deliver(heartbeatOf(a), a, relay)
    expect(ids().sort()).toEqual([joiner.toString(), a.toString()].sort())
    expect(events.filter(e => e.type === 'member:fail').map(e => e.id)).toEqual([ghost.toString()])
  })

  it('an unverified member\'s later heartbeats at its incarnation keep its figures fresh (weight 0 is seen); an old one replayed does not', async () => {
    await start(10)
    const x = await newPeerId()
    expect(credentials.get(x.toString())).toBeUndefined()
    const first = heartbeatOf(x, { incarnation: 1, weight: 1, load: { workers: 0 } }, { seq: 1 })
    await pubsub.deliver(first, x, relay)
    expect(row(x)).toMatchObject({ weight: 1, load: { workers: 0 } })
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    await pubsub.deliver(heartbeatOf(x, { incarnation: 1, weight: 0, load: { workers: 4 } }, { seq: 2 }), x, relay)
    expect(row(x)).toMatchObject({ weight: 0, load: { workers: 4 } })
    expect(typesFor(x)).toEqual(['member:join', 'member:update'])
    // an old heartbeat sent again after gossipsub's seen-cache forgot it: its figures are not taken back
    await pubsub.deliver(first, x, relay)
    expect(row(x)).toMatchObject({ weight: 0, load: { workers: 4 } })
    expect(membership.rejected().find(r => r.protocol === MEMBERS_TOPIC && r.reason === 'replay')?.count).toBe(1)
  })

  it('an unverified member this node cannot dial (one-way partition) stays listed while its heartbeats come: no join/fail flapping; quiet, it is dropped once', async () => {
    // one watch target, the relay: the member is one this node does not watch, as most are beyond a few
    let x: PeerId
    do {
      x = await newPeerId()
      const ring = new MonitorRing()
      ring.add(relay.toString())
      ring.add(x.toString())
      if (ring.successors(libp2p.peerId.toString(), 1)[0] === relay.toString()) break
    } while (true)
    await start(10, { monitors: 1 })
    libp2p.connected.add(relay.toString())
    libp2p.dialOutcome = async () => { throw timedOut() }
    for (let at = 0; at < 10_000; at += HEARTBEAT_MS) {
      await pubsub.deliver(heartbeatOf(relay), relay)
      // an unchanged member gossips at the refresh interval (here 900 ms at 3 members)
      if (at % 1000 === 0) await pubsub.deliver(heartbeatOf(x), x, relay)
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    }
    expect(libp2p.dials.filter(d => d === x.toString()).length).toBeGreaterThan(3)
    expect(typesFor(x)).toEqual(['member:join'])
    expect(ids()).toContain(x.toString())
    // gone quiet: dropped at an unanswered dial once twice the refresh interval passed
    for (let at = 0; at < 3000; at += HEARTBEAT_MS) {
      await pubsub.deliver(heartbeatOf(relay), relay)
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    }
    expect(typesFor(x)).toEqual(['member:join', 'member:fail'])
    expect(ids()).toEqual([relay.toString()])
  })

  it('a member whose certificate a handshake recorded is verified after its connection closed: the same incarnation again is liveness', async () => {
    await start(10)
    // the credential outlives the connection (PeerCredentials remembers it): no connection here at all
    for (let at = 0; at < 20 * HEARTBEAT_MS; at += HEARTBEAT_MS) {
      await pubsub.deliver(heartbeatOf(a), a, relay)
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    }
    expect(typesFor(a)).toEqual(['member:join'])
    expect(row(a)?.lastSeenMs).toBeLessThanOrEqual(HEARTBEAT_MS)
  })
})

describe('MembershipCore: claims of unverified signers', () => {
  it('never confirm a suspicion, however many keys sign them; a verified claimer\'s do', () => {
    const NOW = 1_800_000_000_000
    const config = resolveMembershipConfig({ heartbeatMs: 100, suspicionMinMs: 500, suspicionMaxMs: 5000 })
    const failedAfter = (verified: boolean): number => {
      const core = new MembershipCore(config, entry('me', { incarnation: NOW }), 0, { reject: () => {}, certify: e => e, wallNow: () => NOW, verified: id => verified || !id.startsWith('ghost') })
      for (const id of ['A', 'B', 'C', 'D']) core.onHeartbeat({ v: 1, seq: 0, member: entry(id), suspects: [], hears: [] }, id, 0)
      let now = 0
      // no beat line opens here: A is suspected when the wait for one ends (two silence windows)
      for (; now <= 2 * config.suspectAfterMs; now += 25) core.tick(now)
      expect(core.table.get('A', now)?.state).toBe('suspect')
      for (let i = 0; i < 3; i++) core.onHeartbeat({ v: 1, seq: 1, member: entry(`ghost-${i}`), suspects: [{ id: 'A', incarnation: 0, state: 'suspect' }], hears: [] }, `ghost-${i}`, now)
      for (; core.table.get('A', now)?.state === 'suspect'; now += 25) core.tick(now)
      return now
    }
    expect(failedAfter(false)).toBeGreaterThan(config.suspectAfterMs + config.suspicionMaxMs - 100)
    expect(failedAfter(true)).toBeLessThan(config.suspectAfterMs + config.suspicionMaxMs - 1000)
  })
})
