import { it, expect, onTestFinished } from 'vitest'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import type { GridProcess, LogLine } from './helpers/grid-process.ts'
import { connectedTo, revokeAndMeasure } from './helpers/revocation.ts'

const ENDLESS = fileURLToPath(new URL('../fixtures/durable/endless.mjs', import.meta.url))
const started = (l: LogLine): boolean => l.msg === 'deployment run started'
const stopped = (l: LogLine): boolean => l.msg === 'deployment run stopped: this member no longer owns it'

// Seen on a real grid: the members dropped a revoked member at once, so it never got the CRL; alone in its
// own view, it went on running the deployment it owned beside the member that took it over.
it('a revoked member is handed the CRL on its way out and stands down: it stops the deployment it ran, another member takes it over, its /readyz says why', async () => {
  // n4: the CLI's member certificate (deploys)
  const grid = await GridFixture.create(4)
  onTestFinished(async () => { await grid.close() })
  const args = (name: string): string[] => ['--agent', '--workers', '2', '--cpu', '2', '--memory', '1024', '--health', '0', '--data-dir', join(grid.dir, `data-${name}`)]
  const n1 = await grid.start('n1', args('n1'))
  const nodes: Array<{ name: string, node: GridProcess }> = [{ name: 'n1', node: n1 }]
  for (const name of ['n2', 'n3']) nodes.push({ name, node: await grid.start(name, ['--peer', n1.address, ...args(name)]) })
  for (const { node } of nodes) for (const other of nodes) if (other.node !== node) await node.firstLine(connectedTo(other.node.peerId), 20_000)

  const deployed = await runGrid(['pipeline', 'deploy', ENDLESS, '--name', 'endless', '--peer', n1.address, '--certs', grid.dir, '--cert-name', 'n4', '--json'], { timeoutMs: 30_000 })
  expect(deployed.code, deployed.stderr).toBe(0)
  const owner = await eventually(() => nodes.find(({ node }) => node.lines.some(started)), 30_000)
  const rest = nodes.filter(n => n !== owner)
  const marks = nodes.map(({ node }) => node.mark())

  await revokeAndMeasure(grid.dir, owner.name, owner.node, rest[0]!.node, rest.map(n => n.node))
  const since = marks[nodes.indexOf(owner)]
  await owner.node.waitFor(l => /own certificate is revoked/.test(String(l.msg)), 10_000, since)
  await owner.node.waitFor(stopped, 10_000, since)
  // the grid, which no longer sees it, takes the deployment over
  await eventually(() => rest.find(n => n.node.lines.slice(marks[nodes.indexOf(n)]).some(started)), 20_000)

  const health = await owner.node.firstLine(l => l.msg === 'health endpoints listening (/healthz, /readyz)')
  const ready = await fetch(new URL('/readyz', String(health.url)))
  expect(ready.status).toBe(503)
  expect(await ready.json()).toMatchObject({ status: 'not ready', reason: 'this node\'s certificate is revoked' })

  // and it claims it no more, though it sees no other member alive
  const after = owner.node.mark()
  await new Promise(resolve => setTimeout(resolve, 3000))
  expect(owner.node.lines.slice(after).filter(started)).toEqual([])
}, 90_000)
