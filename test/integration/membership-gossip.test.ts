import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { createGridLibp2p } from '../../src/transport/libp2p.ts'
import type { GridLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { MEMBERS_TOPIC } from '../../src/membership/constants.ts'

const dropped = (l: { msg: string }): boolean => l.msg.startsWith('dropped malformed membership gossip')

describe('malformed membership gossip from an authenticated member', () => {
  let grid: GridFixture
  let nodes: GridProcess[]
  let rogue: GridLibp2p

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    const first = await grid.start('n1')
    nodes = [first, await grid.start('n2', ['--peer', first.address])]
    // the rogue holds a valid certificate from the grid CA but publishes garbage
    rogue = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n3'), log: pino({ level: 'silent' }) })
    rogue.services.pubsub.subscribe(MEMBERS_TOPIC)
    for (const node of nodes) await rogue.dial(multiaddr(`/ip4/127.0.0.1/tcp/${node.port}`))
    await eventually(() => rogue.services.pubsub.getSubscribers(MEMBERS_TOPIC).length === 2 ? true : undefined)
  })

  afterAll(async () => {
    await rogue?.stop()
    await grid.close()
  })

  it('logs and drops bad JSON, wrong types and a 2 MB payload, and stays healthy', async () => {
    const bad = [
      new TextEncoder().encode('{"v":1, not json'),
      new TextEncoder().encode(JSON.stringify({ v: 1, seq: 'x', member: { id: 42 }, suspects: 'all', hears: [] })),
      new Uint8Array(2 * 1024 * 1024).fill(0x7b)
    ]
    for (const data of bad) await rogue.services.pubsub.publish(MEMBERS_TOPIC, data)
    for (const node of nodes) {
      await node.waitFor(() => node.lines.filter(dropped).length >= 3, 10_000)
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
      await node.waitFor(() => node.lines.filter(droppedChannel).length >= 4, 10_000)
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
})
