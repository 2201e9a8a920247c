import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import pino from 'pino'
import type { PeerId } from '@libp2p/interface'
import { Membership } from '../../../src/membership/membership.ts'
import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import { SYNC_PROTOCOL } from '../../../src/membership/constants.ts'
import { MAX_MEMBER_DIALS } from '../../../src/membership/connections.ts'
import { StubLibp2p, StubPubsub, stubComponents, newPeerId } from './stubs.ts'
import { entry } from './helpers.ts'

const HEARTBEAT_MS = 100
const never = async (): Promise<void> => { await new Promise(() => {}) }

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
})
