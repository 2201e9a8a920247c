import { it, expect, onTestFinished } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

/** How often `"key":` opens a field of the JSON line's top level (pino writes child bindings flat, so a repeated binding repeats the key). */
const occurrences = (line: string, key: string): number => line.split(`"${key}":`).length - 1

// A repeated key is a JSON line that log pipelines read differently (first wins, last wins, or refused):
// the deployments' and tasks' lines said "component":"gridd","component":"deployments".
it('the node\'s deployments and tasks log lines carry their component once', async () => {
  const grid = await GridFixture.create(1)
  const dir = await mkdtemp(join(tmpdir(), 'gridd-log-keys-'))
  const raw: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { raw.push(line) } })
  const node = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n1'), logger, dataDir: join(dir, 'data') })
  onTestFinished(async () => { await cleanup(async () => await node.stop(), async () => await grid.close(), async () => await rm(dir, { recursive: true, force: true })) })
  const definition = join(dir, 'quiet.mjs')
  await writeFile(join(dir, 'stage.mjs'), 'export default (x) => x\n')
  await writeFile(definition, "export default { source: () => [], stages: [{ name: 'same', module: './stage.mjs' }], sink: () => () => {} }\n")
  await node.deploy('quiet', definition)
  // no agent: the task waits, and its pool says so
  const task = node.submit(join(dir, 'stage.mjs'), 1)
  task.result().catch(() => {})
  const deployments = await eventually(() => raw.find(l => l.includes('"deployments"') && l.includes('deployment lease')), 15_000)
  const tasks = await eventually(() => raw.find(l => l.includes('no worker for this task module yet')), 15_000)
  expect(JSON.parse(deployments).component).toBe('deployments')
  expect(JSON.parse(tasks).component).toBe('tasks')
  for (const line of raw) expect(occurrences(line, 'component'), line).toBeLessThanOrEqual(1)
})
