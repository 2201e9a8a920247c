import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import type { FailedItem } from '../../src/pipeline/types.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '8', '--cpu', '8', '--memory', '8192']
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)

describe('pipelines across real agent processes', () => {
  let grid: GridFixture
  let agents: GridProcess[]
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    agents = [await grid.start('n1', AGENT)]
    agents.push(await grid.start('n2', [...AGENT, '--peer', agents[0]!.address]))
    owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n3'), peers: [agents[0]!.address], heartbeatMs: 200 })
    await eventually(() => owner.members().filter(m => m.role === 'agent' && m.state === 'alive').length === 2 ? true : undefined)
  })

  afterAll(async () => {
    await owner?.stop()
    await grid.close()
  })

  it('a 3-stage pipeline over 2 agents delivers every one of 50,000 items exactly once', async () => {
    const seen = new Map<number, number>()
    const run = owner.pipeline('exactly-once', {
      source: range(50_000),
      stages: [
        { name: 'double', module: stage('plain.mjs'), minWorkers: 2 },
        { name: 'echo', module: stage('slow-echo.mjs'), minWorkers: 2, concurrency: 16 },
        { name: 'half', module: stage('plain.mjs'), minWorkers: 2 }
      ],
      sink: (value) => { seen.set(value as number, (seen.get(value as number) ?? 0) + 1) },
      equalize: false
    })
    const summary = await run.done
    expect(summary).toMatchObject({ in: 50_000, out: 50_000, failed: 0, duplicatesSuppressed: 0 })
    expect(seen.size).toBe(50_000)
    for (const n of range(50_000)) expect(seen.get(n * 4)).toBe(1)
  }, 120_000)

  it('a stage that throws on every 100th item: those fail after 3 attempts with the remote stack, the rest arrive', async () => {
    const failed: FailedItem[] = []
    const out: number[] = []
    const run = owner.pipeline('throws', {
      source: range(2000),
      stages: [{ name: 'maybe', module: stage('throws-every-100th.mjs'), minWorkers: 2 }],
      sink: (value) => { out.push(value as number) },
      equalize: false
    })
    run.on('item:failed', f => failed.push(f))
    const summary = await run.done
    expect(summary.failed).toBe(20)
    expect(out.sort((a, b) => a - b)).toEqual(range(2000).filter(n => n % 100 !== 0))
    expect(failed.map(f => f.item).sort((a, b) => (a as number) - (b as number))).toEqual(range(20).map(n => n * 100))
    for (const f of failed) {
      expect(f.attempts).toBe(3)
      expect(f.error).toMatchObject({ name: 'RangeError', message: `item ${f.item as number} is a multiple of 100` })
      expect(f.error.stack).toMatch(/throws-every-100th\.mjs/)
    }
  })

  it('a poison item that crashes its worker is failed, the workers respawned, and the run completes', async () => {
    const failed: FailedItem[] = []
    const lost: string[] = []
    const out: number[] = []
    const run = owner.pipeline('poison', {
      source: range(300),
      stages: [{ name: 'poison', module: stage('poison.mjs'), minWorkers: 2 }],
      sink: (value) => { out.push(value as number) },
      equalize: false
    })
    run.on('item:failed', f => failed.push(f))
    run.on('worker:lost', w => lost.push(w.workerId))
    const summary = await run.done
    expect(failed.map(f => f.item)).toEqual([13])
    expect(failed[0]!.error.name).toBe('PoisonItemError')
    expect(lost).toHaveLength(2)
    expect(summary.out).toBe(299)
    expect(new Set(out).size).toBe(299)
  })

  it('cancel stops the source and kills the workers', async () => {
    let pulled = 0
    function * endless (): Generator<number> { for (;;) yield ++pulled }
    const run = owner.pipeline('cancel', { source: endless(), stages: [{ name: 'echo', module: stage('slow-echo.mjs'), minWorkers: 2 }], sink: () => {}, equalize: false })
    await eventually(() => pulled > 500 ? true : undefined)
    run.cancel()
    await expect(run.done).rejects.toMatchObject({ code: 'ERR_PIPELINE_CANCELLED' })
    const after = pulled
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(pulled).toBe(after)
    await eventually(() => owner.members().every(m => m.load.workers === 0) ? true : undefined)
  })

  it('SIGKILL of one agent mid-run: every item still reaches the sink and the run completes', async () => {
    const seen = new Set<number>()
    const run = owner.pipeline('agent-dies', {
      source: range(20_000),
      stages: [{ name: 'echo', module: stage('slow-echo.mjs'), minWorkers: 4, maxWorkers: 4, concurrency: 1 }],
      sink: (value) => { seen.add(value as number) },
      equalize: false
    })
    const lost: string[] = []
    run.on('worker:lost', w => lost.push(w.agentId))
    await eventually(() => seen.size > 1000 ? true : undefined, 30_000, 20)
    const seenAtKill = seen.size
    await agents[1]!.stop('SIGKILL')
    const summary = await run.done
    expect(seenAtKill, 'the kill must land mid-run').toBeLessThan(20_000)
    // concurrent spawns spread over both agents (no stampede onto one)
    expect(lost, JSON.stringify({ seenAtKill, summary })).toContain(agents[1]!.peerId)
    expect(seen.size).toBe(20_000)
    expect(summary.out + summary.duplicatesSuppressed).toBeGreaterThanOrEqual(20_000)
    expect(summary.failed).toBe(0)
  }, 120_000)
})
