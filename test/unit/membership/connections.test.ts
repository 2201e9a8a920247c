import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import pino from 'pino'
import type { PeerId } from '@libp2p/interface'
import { Membership } from '../../../src/membership/membership.ts'
import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import { SYNC_PROTOCOL } from '../../../src/membership/constants.ts'
import { MAX_MEMBER_DIALS, MemberConnections, isRefusal } from '../../../src/membership/connections.ts'
import type { Member } from '../../../src/membership/member.ts'
import { StubLibp2p, StubPubsub, stubComponents, newPeerId } from './stubs.ts'
import { entry } from './helpers.ts'

const HEARTBEAT_MS = 100
const never = async (): Promise<void> => { await new Promise(() => {}) }
const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4100'), { code: 'ECONNREFUSED' })
const timedOut = (): Error => Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })
const reset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })

describe('MemberConnections (through Membership, stubbed libp2p)', () => {
  let libp2p: StubLibp2p
  let membership: Membership

  async function start (init: Parameters<typeof resolveMembershipConfig>[0] = {}): Promise<void> {
    membership = new Membership(stubComponents(libp2p, new StubPubsub()), resolveMembershipConfig({ heartbeatMs: HEARTBEAT_MS, ...init }), pino({ level: 'silent' }))
    await membership.start()
  }

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance', 'Date'] })
    libp2p = new StubLibp2p(await newPeerId())
  })

  afterEach(() => {
    membership?.destroy()
    vi.useRealTimers()
  })

  const peers = async (n: number): Promise<PeerId[]> => await Promise.all(Array.from({ length: n }, async () => await newPeerId()))
  const sync = async (members: PeerId[]): Promise<void> => { await libp2p.request(SYNC_PROTOCOL, await newPeerId(), { v: 1, members: members.map(m => entry(m.toString())) }) }

  it('dials in flight count against maxMeshPeers: a sync of 40 members starts 4 dials, not 40', async () => {
    libp2p.dialOutcome = never
    await start({ maxMeshPeers: 4 })
    await sync(await peers(40))
    expect(libp2p.dials).toHaveLength(4)
  })

  it('members it watches beyond maxMeshPeers are dialled at the next period, not left to the mesh repair two heartbeats on', async () => {
    libp2p.dialOutcome = never
    await start({ maxMeshPeers: 1 })
    await sync(await peers(6))
    expect(libp2p.dials).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS + 10)
    // without a connection no beat line can open: its silence would count from when it was watched
    const targets = (membership as unknown as { core: { targets: () => string[] } }).core.targets()
    expect(targets).toHaveLength(2)
    for (const id of targets) expect(libp2p.dials).toContain(id)
  })

  it(`at most ${MAX_MEMBER_DIALS} dials to learned members are in flight at once`, async () => {
    libp2p.dialOutcome = never
    await start()
    await sync(await peers(60))
    expect(libp2p.dials).toHaveLength(MAX_MEMBER_DIALS)
  })

  it('members that failed leave no mesh-repair bookkeeping behind (hearsay rows are gone at once)', async () => {
    libp2p.refuseDials()
    await start()
    for (let i = 0; i < 3; i++) await sync(await peers(50))
    await vi.advanceTimersByTimeAsync(20 * HEARTBEAT_MS)
    expect(membership.members()).toEqual([])
    expect((membership as unknown as { connections: { aliveSince: Map<string, number> } }).connections.aliveSince.size).toBe(0)
  })

  it('a redial that one address refused while another timed out leaves the verdict to the failure detector', async () => {
    const a = await newPeerId()
    const events: string[] = []
    await start()
    membership.on('member:fail', m => { events.push(m.id) })
    await libp2p.request(SYNC_PROTOCOL, a, { v: 1, members: [entry(a.toString())] })
    libp2p.dialOutcome = async () => { throw new AggregateError([refused(), timedOut()], 'All multiaddr dials failed') }
    libp2p.disconnect(a)
    await vi.advanceTimersByTimeAsync(0)
    expect(libp2p.dials.at(-1)).toBe(a.toString())
    expect(events).toEqual([])
    libp2p.dialOutcome = async () => { throw new AggregateError([refused(), refused()], 'All multiaddr dials failed') }
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    libp2p.disconnect(a)
    await vi.advanceTimersByTimeAsync(0)
    expect(events).toEqual([a.toString()])
  })

  it('a member:fail listener that throws on the dial path is logged and counted, not an unhandled rejection', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown): void => { unhandled.push(err) }
    process.on('unhandledRejection', onUnhandled)
    try {
      const a = await newPeerId()
      await start()
      await libp2p.request(SYNC_PROTOCOL, a, { v: 1, members: [entry(a.toString())] })
      membership.on('member:fail', () => { throw new Error('a subscriber\'s bug') })
      libp2p.refuseDials()
      libp2p.disconnect(a)
      await vi.advanceTimersByTimeAsync(0)
      await new Promise(resolve => setImmediate(resolve))
      expect(unhandled).toEqual([])
      expect(membership.members()).toMatchObject([{ id: a.toString(), state: 'failed' }])
      expect(membership.rejected().find(r => r.protocol === 'membership' && r.reason === 'dial')?.count).toBe(1)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})

describe('MemberConnections.watch: a newly watched member is dialled at once, one watched already is the mesh repair\'s', () => {
  it('an unreachable watched member is dialled once when watched and then at the repairs (every two heartbeats), not at every period', async () => {
    const libp2p = new StubLibp2p(await newPeerId())
    libp2p.dialOutcome = async () => { throw timedOut() }
    const unanswered: string[] = []
    const members = new Map<string, Member>()
    const conns = new MemberConnections(stubComponents(libp2p, new StubPubsub()).libp2p, pino({ level: 'silent' }), { heartbeatMs: HEARTBEAT_MS, maxMeshPeers: 1, reconnectForMs: 60_000, reconnectMaxBackoffMs: 1000 }, {
      lookup: id => members.get(id),
      refused: () => {},
      unanswered: id => { unanswered.push(id) }
    })
    const member = async (): Promise<string> => {
      const id = (await newPeerId()).toString()
      members.set(id, { ...entry(id), lastSeenMs: 0 })
      return id
    }
    const settle = async (): Promise<void> => { for (let i = 0; i < 10; i++) await Promise.resolve() }
    const a = await member()
    conns.start()
    conns.observe({ type: 'member:join', member: members.get(a)! }, 0)
    // 10 periods (membership calls watch every heartbeat) with the mesh repair's ticks between them
    for (let period = 0; period < 10; period++) {
      const now = period * HEARTBEAT_MS
      conns.tick(now, [...members.values()])
      conns.watch([a])
      await settle()
    }
    // at once when watched (period 0), then at the repairs at 2, 4, 6, 8 heartbeats: not 10 times
    expect(libp2p.dials.filter(id => id === a)).toHaveLength(5)
    expect(unanswered).toHaveLength(5)
    // one watched from now on is dialled at once, between two repairs; the one watched already is not
    const b = await member()
    conns.watch([a, b])
    await settle()
    expect(libp2p.dials.slice(5)).toEqual([b])
    conns.stop()
  })
})

describe('isRefusal', () => {
  it.each([
    { name: 'ECONNREFUSED', err: refused(), refusal: true },
    { name: 'ECONNREFUSED as the cause', err: new Error('dial failed', { cause: refused() }), refusal: true },
    { name: 'every address refused', err: new AggregateError([refused(), new Error('x', { cause: refused() })]), refusal: true },
    { name: 'one address refused, another timed out', err: new AggregateError([refused(), timedOut()]), refusal: false },
    { name: 'one address refused, another reset', err: new AggregateError([reset(), refused()]), refusal: false },
    { name: 'a reset (the connection was accepted)', err: reset(), refusal: false },
    { name: 'a timeout', err: timedOut(), refusal: false },
    { name: 'an empty AggregateError', err: new AggregateError([]), refusal: false },
    { name: 'not an error', err: 'ECONNREFUSED', refusal: false }
  ])('$name: $refusal', ({ err, refusal }) => {
    expect(isRefusal(err)).toBe(refusal)
  })
})
