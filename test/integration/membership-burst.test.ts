import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { issueIntoDir } from '../../src/certs/files.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

const JOINERS = 16

/**
 * DESIGN §10: many nodes join one seed at the same moment (the connection manager must admit the burst).
 * Simultaneous dials between joiners can reset one of two connections (logged as handshake-failed): normal
 * libp2p dial races, so the claim checked is convergence, not a quiet log.
 */
describe(`join burst: ${JOINERS} nodes join one seed process at once`, () => {
  let grid: GridFixture
  let seed: GridProcess
  const nodes: GridNode[] = []

  beforeAll(async () => {
    grid = await GridFixture.create(1)
    // the joiners' timings: 16 nodes share this test's one event loop, whose answers to the seed's
    // pings come late when it is busy; the burst is about joining, detection has its own tests
    seed = await grid.start('n1', ['--heartbeat-ms', '500'])
    // the joiners' certificates come from the seed's CA
    await Promise.all(Array.from({ length: JOINERS }, async (_, i) => {
      await issueIntoDir(grid.dir, `j${i}`, { roles: ['member', 'agent'] })
    }))
  })

  afterAll(async () => {
    await cleanup(async () => await Promise.all(nodes.map(async n => await n.stop())), async () => await grid?.close())
  })

  it('all start together with only the seed as peer, and every one (the seed too) ends up seeing all the others alive', async () => {
    const tls = await Promise.all(Array.from({ length: JOINERS }, async (_, i) => await loadCerts(grid.dir, `j${i}`)))
    const started = await Promise.allSettled(tls.map(async t => await GridNode.start({ host: '127.0.0.1', port: 0, tls: t, peers: [seed.address], heartbeatMs: 500 })))
    for (const result of started) if (result.status === 'fulfilled') nodes.push(result.value)
    expect(started.filter(r => r.status === 'rejected')).toEqual([])
    // every joiner and the seed: JOINERS others alive each
    await eventually(() => nodes.every(n => n.members().filter(m => m.state === 'alive').length === JOINERS) ? true : undefined, 90_000, 500)
    const seedView = await eventually(async () => {
      const status = await grid.status(seed)
      return status.members.filter(m => m.state === 'alive').length === JOINERS ? status : undefined
    }, 30_000)
    expect(seedView.members.map(m => m.id).sort()).toEqual(nodes.map(n => n.peerId).sort())
    for (const node of nodes) expect(node.members().map(m => m.id)).not.toContain(node.peerId)
  }, 120_000)
})
