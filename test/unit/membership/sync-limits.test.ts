import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import pino from 'pino'
import { streamPair } from '@libp2p/utils'
import type { Connection, PeerId } from '@libp2p/interface'
import { Membership } from '../../../src/membership/membership.ts'
import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import { SYNC_PROTOCOL } from '../../../src/membership/constants.ts'
import { SYNC_MIN_INTERVAL_MS } from '../../../src/membership/sync.ts'
import { StubLibp2p, StubPubsub, stubComponents, newPeerId } from './stubs.ts'
import { entry } from './helpers.ts'

const HEARTBEAT_MS = 100

describe('Membership sync: what one peer can make this node do', () => {
  let libp2p: StubLibp2p
  let membership: Membership
  let peer: PeerId

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance', 'Date'] })
    libp2p = new StubLibp2p(await newPeerId())
    peer = await newPeerId()
    membership = new Membership(stubComponents(libp2p, new StubPubsub()), resolveMembershipConfig({ heartbeatMs: HEARTBEAT_MS }), pino({ level: 'silent' }))
    await membership.start()
  })

  afterEach(() => {
    membership.destroy()
    vi.useRealTimers()
  })

  const tooOften = (): number => membership.rejected().find(r => r.protocol === SYNC_PROTOCOL && r.reason === 'too-often')?.count ?? 0

  it('a connection holds at most 2 sync streams at once', () => {
    expect(libp2p.handlerOptions.get(SYNC_PROTOCOL)?.maxInboundStreams).toBe(2)
  })

  it('one sync a peer every few seconds is answered; the rest are refused and counted', async () => {
    const listed = (ids: string[]): boolean => ids.every(id => membership.members().some(m => m.id === id))
    const syncFrom = async (from: PeerId): Promise<string[]> => {
      const ids = await Promise.all([1, 2, 3].map(async () => (await newPeerId()).toString()))
      await libp2p.request(SYNC_PROTOCOL, from, { v: 1, members: ids.map(id => entry(id)) })
      return ids
    }
    expect(listed(await syncFrom(peer))).toBe(true)
    for (let i = 0; i < 5; i++) expect(listed(await syncFrom(peer))).toBe(false)
    expect(tooOften()).toBe(5)
    // another member is not held back by this one
    expect(listed(await syncFrom(await newPeerId()))).toBe(true)
    await vi.advanceTimersByTimeAsync(SYNC_MIN_INTERVAL_MS)
    expect(listed(await syncFrom(peer))).toBe(true)
    expect(tooOften()).toBe(5)
  })

  it('a sync stream its dialler ends before sending its table (a connection cut) is counted as truncated, not as a malformed message', async () => {
    const [outbound, inbound] = await streamPair()
    const answered = Promise.resolve(libp2p.handlers.get(SYNC_PROTOCOL)!(inbound, { remotePeer: peer } as unknown as Connection))
    await outbound.close()
    await vi.advanceTimersByTimeAsync(100)
    await answered
    const reasons = membership.rejected().filter(r => r.protocol === SYNC_PROTOCOL).map(r => r.reason)
    expect(reasons).toEqual(['truncated'])
  })

  it('a sync stream that never sends its table is closed at the deadline', async () => {
    const [, inbound] = await streamPair()
    let done = false
    void Promise.resolve(libp2p.handlers.get(SYNC_PROTOCOL)!(inbound, { remotePeer: peer } as unknown as Connection)).finally(() => { done = true })
    await vi.advanceTimersByTimeAsync(4000)
    expect(done).toBe(false)
    await vi.advanceTimersByTimeAsync(1001)
    expect(done).toBe(true)
    expect(inbound.status).not.toBe('open')
  })
})
