import { it, expect, onTestFinished } from 'vitest'
import { join } from 'node:path'
import { GridFixture } from './helpers/grid-fixture.ts'
import { connectedTo, revokeAndMeasure } from './helpers/revocation.ts'

const PEER_LINES = new Set(['peer connected', 'peer disconnected'])

// Seen on a real grid: a revoked node redials every member, each connection closed by the member as it
// opens, and it logged 'peer connected' / 'peer disconnected' for every attempt, ~2 lines a second for good.
it('a revoked node redialling the grid logs its peers connecting and disconnecting at most once a minute each', async () => {
  const grid = await GridFixture.create(4)
  onTestFinished(async () => { await grid.close() })
  const data = (name: string): string[] => ['--data-dir', join(grid.dir, `data-${name}`)]
  const n1 = await grid.start('n1', data('n1'))
  const peers = ['--peer', n1.address]
  const [n2, n3, victim] = await Promise.all([grid.start('n2', [...peers, ...data('n2')]), grid.start('n3', [...peers, ...data('n3')]), grid.start('n4', [...peers, ...data('n4')])])
  const nodes = [n1, n2, n3]
  await Promise.all(nodes.map(async n => await n.firstLine(connectedTo(victim.peerId), 20_000)))
  await revokeAndMeasure(grid.dir, 'n4', victim, n1, nodes)
  const since = victim.mark()
  await new Promise(resolve => setTimeout(resolve, 8000))
  const lines = victim.lines.slice(since).filter(l => PEER_LINES.has(l.msg))
  // each peer connected and disconnected within the last minute already: every further line is held back
  expect(lines.length).toBeLessThanOrEqual(nodes.length * 2)
})
