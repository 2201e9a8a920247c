import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import pino from 'pino'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { Membership } from '../../../src/membership/membership.ts'
import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import { MEMBER_EVENT_TYPES } from '../../../src/membership/events.ts'
import { SYNC_PROTOCOL, MEMBERS_TOPIC, PING_PROTOCOL } from '../../../src/membership/constants.ts'
import type { Member } from '../../../src/membership/member.ts'
import { StubLibp2p, StubPubsub, stubComponents, heartbeatOf, newPeerId } from './stubs.ts'

const HEARTBEAT_MS = 100
const TICK_MS = HEARTBEAT_MS / 4
const config = resolveMembershipConfig({ heartbeatMs: HEARTBEAT_MS, forgetLeftAfterMs: 2000, reconnectMaxBackoffMs: 400 })

describe('Membership (stubbed libp2p and gossipsub)', () => {
  let libp2p: StubLibp2p
  let pubsub: StubPubsub
  let membership: Membership
  let a: PeerId
  let events: Array<{ type: string, id: string, state: string, incarnation: number }>

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance', 'Date'] })
    libp2p = new StubLibp2p(await newPeerId())
    pubsub = new StubPubsub()
    a = await newPeerId()
    membership = new Membership(stubComponents(libp2p, pubsub), config, pino({ level: 'silent' }))
    events = []
    for (const type of MEMBER_EVENT_TYPES) membership.on(type, (m: Member) => { events.push({ type, id: m.id, state: m.state, incarnation: m.incarnation }) })
    await membership.start()
  })

  afterEach(async () => {
    membership.destroy()
    vi.useRealTimers()
  })

  const typesFor = (id: string): string[] => events.filter(e => e.id === id).map(e => e.type)
  /** A keeps beating every heartbeat for `ms`. */
  async function aBeats (ms: number, incarnation = 0): Promise<void> {
    for (let t = 0; t < ms; t += HEARTBEAT_MS) {
      await pubsub.deliver(heartbeatOf(a, { incarnation }), a)
      await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    }
  }

  it('start subscribes to the members topic, serves sync and pings, and gossips at start and then at the refresh', async () => {
    // the refresh is jittered (0.5–1.5× at each publish, drawn from Math.random): pin it to the nominal interval
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5)
    expect(pubsub.subscribed.has(MEMBERS_TOPIC)).toBe(true)
    expect(libp2p.protocols.has(SYNC_PROTOCOL)).toBe(true)
    expect(libp2p.protocols.has(PING_PROTOCOL)).toBe(true)
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS / 2)
    expect(pubsub.published).toHaveLength(1)
    // a new incarnation is announced on its first 3 heartbeats (the gossip mesh may not have formed for the first)
    await vi.advanceTimersByTimeAsync(2 * HEARTBEAT_MS)
    expect(pubsub.published).toHaveLength(3)
    // then nothing changed, nothing to claim: the next one is the refresh (5 heartbeats for a grid this small)
    // (a drifting CPU figure may come at half of it: news about the machine, rate-limited)
    await vi.advanceTimersByTimeAsync(2 * HEARTBEAT_MS)
    expect(pubsub.published).toHaveLength(3)
    await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_MS)
    expect(pubsub.published.length).toBeGreaterThanOrEqual(4)
    expect(pubsub.published.length).toBeLessThanOrEqual(5)
    expect(pubsub.published.at(-1)?.member).toMatchObject({ id: libp2p.peerId.toString(), state: 'alive' })
    random.mockRestore()
  })

  it('a heartbeat this node cannot make (its addresses throw) is logged and not published, never an unhandled rejection', async () => {
    const published = pubsub.published.length
    libp2p.getMultiaddrs = () => { throw new Error('no address') }
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
    process.on('unhandledRejection', onUnhandled)
    try {
      // a weight change gossips at once: through the same publish
      membership.updateSelf({ weight: 2 })
      await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_MS)
      await new Promise(resolve => setImmediate(resolve))
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    expect(unhandled).toEqual([])
    expect(pubsub.published.length).toBe(published)
  })

  it('a heartbeat from a new member is a join; heartbeats keep it alive without more events', async () => {
    await aBeats(10 * HEARTBEAT_MS)
    expect(typesFor(a.toString())).toEqual(['member:join'])
    expect(membership.members()).toMatchObject([{ id: a.toString(), state: 'alive' }])
  })

  it('a heartbeat signed by someone else than the member it describes is rejected', async () => {
    const other = await newPeerId()
    expect(await pubsub.deliver(heartbeatOf(a), other)).toBe(TopicValidatorResult.Reject)
    expect(events).toEqual([])
  })

  it('heartbeat loss: suspect after suspectAfterMs, failed after the suspicion timeout, then redialled with backoff', async () => {
    // past the wait for a beat line (none opens here: A only gossips), so A's silence alone counts
    await aBeats(2 * config.suspectAfterMs)
    // A was last heard one heartbeat ago; the detector ticks every heartbeat / 4
    await vi.advanceTimersByTimeAsync(config.suspectAfterMs - HEARTBEAT_MS + TICK_MS)
    expect(typesFor(a.toString())).toEqual(['member:join', 'member:suspect'])
    // with no other member to confirm, Lifeguard's suspicion timeout is its minimum
    await vi.advanceTimersByTimeAsync(config.suspicionMinMs + TICK_MS)
    expect(typesFor(a.toString())).toEqual(['member:join', 'member:suspect', 'member:fail'])
    // a failed member's half-dead connection is dropped, and the reconnect loop dials it
    expect(libp2p.hangUps).toContain(a.toString())
    const dialsAtFail = libp2p.dials.filter(d => d === a.toString()).length
    await vi.advanceTimersByTimeAsync(5 * config.reconnectMaxBackoffMs)
    expect(libp2p.dials.filter(d => d === a.toString()).length).toBeGreaterThan(dialsAtFail)
    // gossip says what we hold failed
    expect(pubsub.published.at(-1)?.suspects).toContainEqual({ id: a.toString(), incarnation: 0, state: 'failed' })
  })

  it('rejoin: a failed member heard again with a higher incarnation is alive, and no longer redialled', async () => {
    await aBeats(2 * HEARTBEAT_MS)
    await vi.advanceTimersByTimeAsync(config.suspectAfterMs + config.suspicionMaxMs + HEARTBEAT_MS)
    expect(membership.members()[0]?.state).toBe('failed')
    // the same incarnation must refute first: not enough
    await pubsub.deliver(heartbeatOf(a, { incarnation: 0 }), a)
    expect(membership.members()[0]?.state).toBe('failed')
    await pubsub.deliver(heartbeatOf(a, { incarnation: 1 }), a)
    expect(typesFor(a.toString())).toEqual(['member:join', 'member:suspect', 'member:fail', 'member:rejoin'])
    expect(events.at(-1)).toMatchObject({ state: 'alive', incarnation: 1 })
    const dials = libp2p.dials.length
    await aBeats(5 * config.reconnectMaxBackoffMs, 1)
    expect(libp2p.dials.length).toBe(dials)
  })

  it('leave: a left heartbeat is a leave, not a failure; after forgetLeftAfterMs the member is only remembered; back again it is a join', async () => {
    await aBeats(2 * HEARTBEAT_MS)
    await pubsub.deliver(heartbeatOf(a, { state: 'left' }), a)
    expect(typesFor(a.toString())).toEqual(['member:join', 'member:leave'])
    await vi.advanceTimersByTimeAsync(config.forgetLeftAfterMs / 2)
    expect(membership.members()).toMatchObject([{ id: a.toString(), state: 'left' }])
    await vi.advanceTimersByTimeAsync(config.forgetLeftAfterMs)
    // no suspicion or failure of a member that left, and no redials
    expect(typesFor(a.toString())).toEqual(['member:join', 'member:leave'])
    const dials = libp2p.dials.length
    await vi.advanceTimersByTimeAsync(5 * config.reconnectMaxBackoffMs)
    expect(libp2p.dials.length).toBe(dials)
    expect(membership.members()).toEqual([])
    expect(membership.rememberedMembers()).toMatchObject([{ id: a.toString(), state: 'left' }])
    expect(membership.rememberedMembers()[0]!.lastSeenMs).toBeGreaterThanOrEqual(config.forgetLeftAfterMs)
    await pubsub.deliver(heartbeatOf(a, { incarnation: 1 }), a)
    expect(typesFor(a.toString())).toEqual(['member:join', 'member:leave', 'member:join'])
    expect(membership.rememberedMembers()).toEqual([])
  })

  it('a refused redial after the last connection closed fails the member at once', async () => {
    await aBeats(2 * HEARTBEAT_MS)
    libp2p.refuseDials()
    const dials = libp2p.dials.length
    libp2p.disconnect(a)
    await vi.advanceTimersByTimeAsync(0)
    expect(libp2p.dials.slice(dials)).toEqual([a.toString()])
    expect(typesFor(a.toString())).toEqual(['member:join', 'member:fail'])
  })

  it('a redial that times out (a paused member) leaves the verdict to the failure detector', async () => {
    libp2p.dialOutcome = async () => { throw Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }) }
    await aBeats(2 * HEARTBEAT_MS)
    libp2p.disconnect(a)
    await aBeats(4 * HEARTBEAT_MS)
    expect(typesFor(a.toString())).toEqual(['member:join'])
  })

  it('refutes a suspicion of itself with a higher incarnation, at once', async () => {
    const own = pubsub.published.at(-1)!.member.incarnation
    const published = pubsub.published.length
    await pubsub.deliver(heartbeatOf(a, {}, { suspects: [{ id: libp2p.peerId.toString(), incarnation: own, state: 'suspect' }] }), a)
    await vi.advanceTimersByTimeAsync(0)
    expect(pubsub.published.length).toBeGreaterThan(published)
    expect(pubsub.published.at(-1)!.member.incarnation).toBeGreaterThan(own)
  })

  it('the agent provides its worker load through the hook; a change is gossiped at once', async () => {
    let workers = 0
    membership.setLoadProvider(() => ({ workers, maxWorkers: 4, slotsUsed: workers, memoryUsedMb: 0, stages: workers > 0 ? { resize: workers } : {} as Record<string, number> }))
    await vi.advanceTimersByTimeAsync(0)
    expect(pubsub.published.at(-1)!.member.load).toMatchObject({ workers: 0, maxWorkers: 4 })
    workers = 2
    const published = pubsub.published.length
    membership.loadChanged()
    await vi.advanceTimersByTimeAsync(0)
    expect(pubsub.published.length).toBe(published + 1)
    expect(pubsub.published.at(-1)!.member.load).toMatchObject({ workers: 2, slotsUsed: 2, stages: { resize: 2 } })
    expect(membership.selfMember().load.workers).toBe(2)
    // the periodic beat asks the hook too
    workers = 3
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS)
    expect(pubsub.published.at(-1)!.member.load.workers).toBe(3)
  })

  it('stop announces left, unsubscribes, unregisters sync and clears its timers', async () => {
    await aBeats(2 * HEARTBEAT_MS)
    const stopped = membership.stop()
    await vi.advanceTimersByTimeAsync(200)
    await stopped
    expect(pubsub.published.at(-1)!.member.state).toBe('left')
    expect(pubsub.subscribed.has(MEMBERS_TOPIC)).toBe(false)
    expect(libp2p.protocols.has(SYNC_PROTOCOL)).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
    // stopped: nothing more is published or detected
    const published = pubsub.published.length
    await vi.advanceTimersByTimeAsync(10 * HEARTBEAT_MS)
    expect(pubsub.published.length).toBe(published)
    expect(typesFor(a.toString())).toEqual(['member:join'])
  })
})
