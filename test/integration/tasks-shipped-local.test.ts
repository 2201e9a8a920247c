import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { runGrid } from './helpers/grid-process.ts'

const task = (name: string): string => fileURLToPath(new URL(`../fixtures/tasks/${name}`, import.meta.url))

describe('a task module shipped to an owner that is its own (only) agent', () => {
  let grid: GridFixture
  let node: GridProcess

  beforeAll(async () => {
    grid = await GridFixture.create(1)
    node = await grid.start('n1', ['--agent', '--workers', '2', '--cpu', '2', '--memory', '2048'])
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('runs as shipped code from the agent\'s verified cache (never in place from the tasks store): its remote stack names the file the member shipped', async () => {
    const since = node.mark()
    const res = await runGrid(['task', 'run', task('fails.mjs'), '--input', '"y"', '--peer', node.address, '--certs', grid.dir], { timeoutMs: 60_000 })
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/fails\.mjs:3/)
    expect(res.stderr).not.toMatch(/tasks\/modules\/[0-9a-f]{64}\.mjs/)
    expect(node.lines.slice(since).some(l => l.msg === 'spawned shipped code for this node')).toBe(true)
  }, 60_000)
})
