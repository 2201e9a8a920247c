import { describe, it, expect } from 'vitest'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import { FakeNetwork } from '../owner/stubs.ts'
import type { FakePeer } from '../owner/stubs.ts'
import { entry } from '../membership/helpers.ts'
import { MAX_MESSAGE_BYTES } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { STATUS_PROTOCOL, fetchStatus, statusHandler } from '../../../src/control/status.ts'
import type { StatusReport } from '../../../src/control/status.ts'
import { PeerBudget } from '../../../src/transport/peer-budget.ts'
import { ERR_RATE_LIMITED } from '../../../src/errors.ts'

/** A row as a real node lists it: a real peer id, three addresses, a stage running. */
async function row (): Promise<StatusReport['members'][number]> {
  const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  return {
    ...entry(id, { role: 'agent', load: { workers: 2, stages: { resize: 2 } } }),
    addresses: [`/ip4/10.1.2.3/tcp/4100/p2p/${id}`, `/ip4/127.0.0.1/tcp/4100/p2p/${id}`, `/ip6/fd00::1:2:3/tcp/4100/p2p/${id}`],
    lastSeenMs: 1234
  }
}

/** A node serving `report` on a fake network; `ask` fetches it as a fresh peer, or as `from`. */
async function serve (report: () => StatusReport, budget?: PeerBudget): Promise<{ ask: (from?: FakePeer) => Promise<StatusReport>, rejections: Rejections, network: FakeNetwork }> {
  const rejections = new Rejections(pino({ level: 'silent' }))
  const network = new FakeNetwork()
  const node = await network.peer()
  await node.libp2p.handle(STATUS_PROTOCOL, statusHandler(report, rejections, budget))
  const ask = async (from?: FakePeer): Promise<StatusReport> => await fetchStatus((from ?? await network.peer()).libp2p, peerIdFromString(node.id))
  return { ask, rejections, network }
}

describe('status protocol', () => {
  it('a report of 2,500 members (over the 1 MiB of other control messages) reaches the client', async () => {
    const members = await Promise.all(Array.from({ length: 2500 }, row))
    const report: StatusReport = { self: await row(), members }
    expect(JSON.stringify(report).length).toBeGreaterThan(MAX_MESSAGE_BYTES)
    const { ask } = await serve(() => report)
    const got = await ask()
    expect(got.members.length).toBe(2500)
    expect(got.members[2499]!.id).toBe(members[2499]!.id)
  })

  it('each peer pays for the rows it has serialised: past its budget it is refused with ERR_RATE_LIMITED, others are not', async () => {
    const report: StatusReport = { self: await row(), members: await Promise.all(Array.from({ length: 9 }, row)) }
    const { ask, rejections, network } = await serve(() => report, new PeerBudget({ burst: 25, perSecond: 0.001, minCost: 1 }))
    const greedy = await network.peer()
    // 25 rows: 10 + 10 leaves 5 (still above zero), the third takes it to -5, the fourth is refused
    for (let i = 0; i < 3; i++) expect((await ask(greedy)).members.length).toBe(9)
    await expect(ask(greedy)).rejects.toMatchObject({ code: ERR_RATE_LIMITED, retryable: true })
    expect((await ask()).members.length).toBe(9)
    expect(rejections.counters()).toEqual([{ protocol: STATUS_PROTOCOL, reason: 'rate-limited', count: 1 }])
  })
})

describe('PeerBudget', () => {
  it('refills at perSecond up to burst, charges at least minCost, and says how long to wait', () => {
    const budget = new PeerBudget({ perSecond: 1000, burst: 2000, minCost: 100 })
    expect(budget.waitMs('a', 0)).toBe(0)
    budget.charge('a', 5000, 0)
    // 3000 rows in debt at 1000 rows/s, and a request's 100 to have: 3.1 s
    expect(budget.waitMs('a', 0)).toBe(3100)
    expect(budget.waitMs('a', 3099)).toBeGreaterThan(0)
    expect(budget.waitMs('a', 3100)).toBe(0)
    expect(budget.waitMs('b', 0)).toBe(0)
    // a long quiet spell refills to the burst, no more
    budget.charge('a', 1, 1_000_000)
    for (let i = 0; i < 19; i++) budget.charge('a', 1, 1_000_000)
    expect(budget.waitMs('a', 1_000_000)).toBeGreaterThan(0)
  })

  it('tracks at most maxPeers peers', () => {
    const budget = new PeerBudget({ perSecond: 1, burst: 10, maxPeers: 2 })
    for (const peer of ['a', 'b', 'c']) budget.charge(peer, 100, 0)
    expect(budget.waitMs('a', 0)).toBe(0)
    expect(budget.waitMs('c', 0)).toBeGreaterThan(0)
  })
})
