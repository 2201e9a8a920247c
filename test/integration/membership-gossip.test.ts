import { describe, it, expect, beforeAll, afterAll, onTestFinished } from 'vitest'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { createGridLibp2p } from '../../src/transport/libp2p.ts'
import type { GridLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { MEMBERS_TOPIC } from '../../src/membership/constants.ts'
import type { Heartbeat } from '../../src/membership/schema.ts'

const dropped = (l: { msg: string }): boolean => l.msg.startsWith('dropped malformed membership gossip')

describe('malformed membership gossip from an authenticated member', () => {
  let grid: GridFixture
  let nodes: GridProcess[]
  let rogue: GridLibp2p

  /** A peer holding a valid certificate from the grid CA (its own per test: rejected messages score it down). */
  async function startRogue (name: string): Promise<GridLibp2p> {
    const peer = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, name), log: pino({ level: 'silent' }) })
    onTestFinished(async () => { await peer.stop() })
    peer.services.pubsub.subscribe(MEMBERS_TOPIC)
    for (const node of nodes) await peer.dial(multiaddr(`/ip4/127.0.0.1/tcp/${node.port}`))
    await eventually(() => peer.services.pubsub.getSubscribers(MEMBERS_TOPIC).length === 2 ? true : undefined)
    return peer
  }

  beforeAll(async () => {
    grid = await GridFixture.create(5)
    const first = await grid.start('n1')
    nodes = [first, await grid.start('n2', ['--peer', first.address])]
    for (const node of nodes) await eventually(async () => (await grid.status(node)).members.filter(m => m.state === 'alive').length === 1 ? true : undefined)
  })

  afterAll(async () => {
    await grid?.close()
  })

  it('logs and drops bad JSON, wrong types and a 2 MB payload, and stays healthy', async () => {
    rogue = await startRogue('n3')
    const bad = [
      new TextEncoder().encode('{"v":1, not json'),
      new TextEncoder().encode(JSON.stringify({ v: 1, seq: 'x', member: { id: 42 }, suspects: 'all', hears: [] })),
      new Uint8Array(2 * 1024 * 1024).fill(0x7b)
    ]
    for (const data of bad) await rogue.services.pubsub.publish(MEMBERS_TOPIC, data)
    for (const node of nodes) {
      await eventually(() => node.lines.filter(dropped).length >= 3 ? true : undefined, 10_000)
      const reasons = node.lines.filter(dropped).map(l => String(l.reason))
      expect(reasons.some(r => /not valid JSON/.test(r))).toBe(true)
      expect(reasons.some(r => /schema/.test(r))).toBe(true)
      expect(reasons.some(r => /exceeds the \d+ byte limit/.test(r))).toBe(true)
      expect(node.proc.exitCode).toBeNull()
    }
    // still healthy: each lists the other alive, the rogue never became a member
    for (const [node, other] of [[nodes[0]!, nodes[1]!], [nodes[1]!, nodes[0]!]] as const) {
      const status = await grid.status(node)
      expect(status.members.map(m => [m.id, m.state])).toEqual([[other.peerId, 'alive']])
    }
  })

  it('logs and drops malformed channel messages (bad JSON, wrong types, forged author, oversized), keeping the channel intact', async () => {
    rogue = await startRogue('n4')
    const topic = 'gridd/channel/cfg'
    // the nodes open the channel (a CLI write), so they subscribe to its topic
    const set = await runGrid(['channel', 'set', 'cfg', 'k', '"good"', '--peer', nodes[0]!.address, '--certs', grid.dir])
    expect(set.code).toBe(0)
    await runGrid(['channel', 'list', 'cfg', '--peer', nodes[1]!.address, '--certs', grid.dir])
    rogue.services.pubsub.subscribe(topic)
    await eventually(() => rogue.services.pubsub.getSubscribers(topic).length === 2 ? true : undefined)
    const droppedChannel = (l: { msg: string }): boolean => l.msg.startsWith('dropped malformed channel message')
    const entry = { key: 'k', value: 'evil', deleted: false, t: Date.now() + 1000, c: 0 }
    const bad = [
      '{"v":1, not json',
      JSON.stringify({ v: 1, channel: 'cfg', entries: 'all' }),
      JSON.stringify({ v: 1, channel: 'cfg', entries: [{ ...entry, origin: nodes[0]!.peerId }] }),
      JSON.stringify({ v: 1, channel: 'cfg', entries: [{ ...entry, origin: rogue.peerId.toString(), value: 'x'.repeat(512 * 1024) }] })
    ]
    for (const data of bad) await rogue.services.pubsub.publish(topic, new TextEncoder().encode(data))
    for (const node of nodes) {
      await eventually(() => node.lines.filter(droppedChannel).length >= 4 ? true : undefined, 10_000)
      const reasons = node.lines.filter(droppedChannel).map(l => String(l.reason))
      expect(reasons.some(r => /not valid JSON/.test(r))).toBe(true)
      expect(reasons.some(r => /schema/.test(r))).toBe(true)
      expect(reasons.some(r => /did not author/.test(r))).toBe(true)
      expect(reasons.some(r => /byte limit/.test(r))).toBe(true)
      const got = await runGrid(['channel', 'get', 'cfg', 'k', '--peer', node.address, '--certs', grid.dir])
      expect(got.stdout.trim()).toBe('good')
      expect(node.proc.exitCode).toBeNull()
    }
  })
  it('drops a well-formed heartbeat that describes another member than its signer, and the table keeps the real one', async () => {
    rogue = await startRogue('n5')
    const [a, b] = nodes as [GridProcess, GridProcess]
    const real = (await grid.status(a)).members.find(m => m.id === b.peerId)!
    expect(real).toMatchObject({ state: 'alive', weight: 1 })
    // schema-valid in every field, signed by the rogue, but about b: a higher incarnation, weight 777, "left"
    const forged: Heartbeat = {
      v: 1,
      seq: 1,
      member: {
        id: b.peerId,
        addresses: ['/ip4/127.0.0.1/tcp/9'],
        state: 'left',
        incarnation: real.incarnation + 1000,
        role: 'agent',
        capacity: { cpu: 64, memoryMb: 65536 },
        load: { cpu: 0, memoryFreeMb: 65536, workers: 0, maxWorkers: 64, slotsUsed: 0, memoryUsedMb: 0, stages: {} },
        weight: 777,
        strategy: 'vertical'
      },
      suspects: [],
      hears: []
    }
    const since = a.mark()
    await rogue.services.pubsub.publish(MEMBERS_TOPIC, new TextEncoder().encode(JSON.stringify(forged)))
    const line = await a.waitFor(l => dropped(l) && String(l.reason).includes('describes'), 10_000, since)
    expect(line.reason).toBe(`signed by ${rogue.peerId.toString()} but describes ${b.peerId}`)
    // b's own heartbeats keep arriving; the forged claims never reach the table
    const after = await eventually(async () => {
      const entry = (await grid.status(a)).members.find(m => m.id === b.peerId)
      return entry != null && entry.lastSeenMs < 1000 ? entry : undefined
    })
    expect(after).toMatchObject({ state: 'alive', weight: 1, role: 'member', incarnation: real.incarnation })
    expect(a.lines.slice(since).filter(l => l.member === b.peerId && typeof l.msg === 'string' && l.msg.startsWith('member:'))).toEqual([])
  })
})
