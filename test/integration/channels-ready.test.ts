import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { runGrid } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

/**
 * `channel.ready` on a node that has just started: its seed is not dialled yet when `GridNode.start`
 * resolves, so an opening exchange run at once asks nobody. Ready waits for the join (bounded).
 */
describe('channel.ready on a node just started', () => {
  let grid: GridFixture
  let n1: GridProcess
  const started: GridNode[] = []

  beforeAll(async () => {
    grid = await GridFixture.create(4)
    n1 = await grid.start('n1')
    const res = await runGrid(['channel', 'set', 'cfg', 'region', 'eu-west', '--peer', n1.address, '--certs', grid.dir, '--timeout', '5000'])
    expect(res.code, res.stderr).toBe(0)
  }, 60_000)

  afterAll(async () => {
    await cleanup(...started.map(n => async () => await n.stop()), async () => await grid?.close())
  })

  it('a node opening a channel right after start reads the grid\'s keys once ready', async () => {
    const node = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n2'), heartbeatMs: 200, peers: [n1.address] })
    started.push(node)
    const cfg = node.channel('cfg')
    const begun = Date.now()
    await cfg.ready
    expect(cfg.get('region')).toBe('eu-west')
    expect(Date.now() - begun).toBeLessThan(10_000)
  }, 30_000)

  it('a node given no peer is ready at once, alone', async () => {
    const node = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n3'), heartbeatMs: 200 })
    started.push(node)
    const begun = Date.now()
    await node.channel('cfg').ready
    expect(Date.now() - begun).toBeLessThan(1000)
    expect(node.channel('cfg').get('region')).toBeUndefined()
  }, 30_000)

})
