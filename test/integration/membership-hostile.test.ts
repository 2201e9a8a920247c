import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { createGridLibp2p } from '../../src/transport/libp2p.ts'
import type { GridLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { requestJson } from '../../src/transport/json-stream.ts'
import { SYNC_PROTOCOL } from '../../src/membership/constants.ts'
import { syncMessageSchema } from '../../src/membership/schema.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'

/** A's member cap in this test: small, so a flood of fake members hits it. */
const MAX_MEMBERS = 50

/** Longer than the ~6 s after which a bad id used to crash the node, and than many failure verdicts at 200 ms heartbeats. */
const WATCH_MS = 10_000

/** A plausible member-sync entry about `id`. */
function entryAbout (id: string, state: string, incarnation: number): Record<string, unknown> {
  return {
    id,
    addresses: ['/ip4/127.0.0.1/tcp/1'],
    state,
    incarnation,
    role: 'member',
    capacity: { cpu: 1, memoryMb: 1024 },
    load: { cpu: 0, memoryFreeMb: 512, workers: 0, maxWorkers: 0, slotsUsed: 0, memoryUsedMb: 0, stages: {} },
    weight: 1,
    strategy: 'horizontal'
  }
}

describe('member sync from a hostile member holding a valid certificate', () => {
  let grid: GridFixture
  let a: GridProcess
  let b: GridProcess
  let rogue: GridLibp2p

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    a = await grid.start('n1', ['--max-members', String(MAX_MEMBERS)])
    b = await grid.start('n2', ['--peer', a.address])
    await eventually(async () => (await grid.status(a)).members.some(m => m.id === b.peerId && m.state === 'alive') ? true : undefined)
    rogue = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n3'), log: pino({ level: 'silent' }) })
  })

  afterAll(async () => {
    await rogue?.stop()
    await grid?.close()
  })

  /** Sends each list of entries to A as one member-sync message, as a member would. */
  async function syncToA (messages: Array<Array<Record<string, unknown>>>): Promise<void> {
    const target = multiaddr(`/ip4/127.0.0.1/tcp/${a.port}/p2p/${a.peerId}`)
    for (const members of messages) {
      // A refuses a malformed one by resetting the stream: an outcome here, not a test error
      await requestJson(rogue, target, SYNC_PROTOCOL, { v: 1, members }, syncMessageSchema, { signal: AbortSignal.timeout(5000) }).catch(() => {})
    }
  }

  /** A's view every 500 ms for `ms`, failing at once if A exits. */
  async function watchA (ms: number): Promise<Array<Array<[string, string, number]>>> {
    const views: Array<Array<[string, string, number]>> = []
    const until = Date.now() + ms
    while (Date.now() < until) {
      expect(a.proc.exitCode, a.output()).toBeNull()
      views.push((await grid.status(a)).members.map(m => [m.id, m.state, m.incarnation]))
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    return views
  }

  it('a third party cannot evict B: a forged `left` at 2^53-1 or at a plausible incarnation, or a forged `failed`, leaves B alive', async () => {
    const bIncarnation = (await grid.status(a)).members.find(m => m.id === b.peerId)!.incarnation
    await syncToA([
      [entryAbout(b.peerId, 'left', Number.MAX_SAFE_INTEGER)],
      [entryAbout(b.peerId, 'left', bIncarnation + 1)],
      [entryAbout(b.peerId, 'failed', bIncarnation + 1)]
    ])
    // watched for many failure-detection periods (200 ms heartbeats): B stays alive, at its own incarnation
    for (const view of await watchA(5000)) {
      expect(view.map(([id, state]) => [id, state])).toEqual([[b.peerId, 'alive']])
      expect(view[0]![2]).toBeLessThan(Date.now() + 60_000)
    }
    expect(a.lines.filter(l => l.member === b.peerId).map(l => l.msg)).not.toContain('member:leave')
    expect(a.lines.filter(l => l.member === b.peerId).map(l => l.msg)).not.toContain('member:fail')
    expect(b.proc.exitCode).toBeNull()
    // the impossible incarnation is dropped and counted, and said why
    expect(a.lines.some(l => l.rejected === 'incarnation' && l.protocol === SYNC_PROTOCOL)).toBe(true)
  })

  it('ids that are not peer ids are refused by the schema: A stays up and lists neither', async () => {
    await syncToA([
      // fails the base58 pattern
      [entryAbout('not-a-peer-id', 'alive', Date.now())],
      // passes the base58 pattern but is no peer id (its parse used to throw in a dial timer ~6 s later)
      [entryAbout('notapeerxd', 'alive', Date.now())]
    ])
    const views = await watchA(WATCH_MS)
    for (const view of views) expect(view.map(([id]) => id)).toEqual([b.peerId])
    expect(a.lines.filter(l => l.msg === 'dropped a member sync request').map(l => String(l.reason)).join('\n')).toMatch(/peer id/)
  })

  it('a flood of fake members is capped at --max-members and dropped once they never answer, B kept throughout', async () => {
    const fakes = await Promise.all(Array.from({ length: 200 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
    // nobody listens on port 1: every dial to them is refused
    const before = a.mark()
    await syncToA([fakes.map(id => entryAbout(id, 'alive', Date.now()))])
    await a.waitFor(l => l.rejected === 'table-full', 15_000, before)
    const listed = (await grid.status(a)).members
    expect(listed.length).toBeLessThanOrEqual(MAX_MEMBERS)
    expect(listed.map(m => [m.id, m.state])).toContainEqual([b.peerId, 'alive'])
    // hearsay that never answers leaves the table (the old code kept it failed, redialled for 24 h)
    await eventually(async () => (await grid.status(a)).members.length === 1 ? true : undefined)
    expect((await grid.status(a)).members.map(m => [m.id, m.state])).toEqual([[b.peerId, 'alive']])
    expect(a.proc.exitCode).toBeNull()
  })
})
