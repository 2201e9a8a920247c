import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { NoCapacityError } from '../../src/errors.ts'
import type { UnplaceableStage } from '../../src/pipeline/types.ts'
import { snapshot } from '../../src/dashboard/snapshot.ts'
import { renderView } from '../../examples/demo/view.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '8', '--cpu', '8', '--memory', '8192']
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('truthful placement: a stage nothing can run', () => {
  let grid: GridFixture
  let member: GridProcess
  let owner: GridNode
  const warnings: Array<{ msg: string, stage?: string, reason?: string }> = []

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    // a grid of plain members: nothing in it can run a worker
    member = await grid.start('n1')
    const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(JSON.parse(line) as { msg: string }) } })
    owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n3'), peers: [member.address], heartbeatMs: 200, logger })
    await eventually(() => owner.members().some(m => m.id === member.peerId && m.state === 'alive') ? true : undefined)
  })

  afterAll(async () => {
    await owner?.stop()
    await grid.close()
  })

  it('no agent: 0 workers and one stage:unplaceable within 5 s, nothing claimed meanwhile; the run completes once an agent process joins', async () => {
    const unplaceable: UnplaceableStage[] = []
    const scaled: unknown[] = []
    const seen = new Set<number>()
    const t0 = Date.now()
    const run = owner.pipeline('waits-for-an-agent', {
      source: range(500),
      stages: [{ name: 'double', module: stage('plain.mjs') }],
      sink: v => { seen.add(v as number) },
      equalizeMs: 200
    })
    run.on('stage:unplaceable', e => { unplaceable.push(e) })
    run.on('stage:scaled', e => { scaled.push(e) })
    await eventually(() => unplaceable.length > 0 ? true : undefined, 5000, 50)
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(unplaceable[0]).toEqual({ stage: 'double', reason: 'no agents in the grid', shortfalls: [] })
    expect(run.stats().stages[0]).toMatchObject({ workers: 0, unplaceable: 'no agents in the grid' })
    // the dashboard's frame shows it too
    expect(snapshot(owner).pipelines.find(p => p.name === 'waits-for-an-agent')?.stages[0]).toMatchObject({ workers: 0, unplaceable: 'no agents in the grid' })
    expect(renderView({ elapsedS: 1, phase: '', selfId: owner.peerId, members: [], stages: run.stats().stages, results: 0, decisions: [] })).toMatch(/double +0 \(unplaceable\)[^]*! double cannot be placed: no agents in the grid/)
    // 3 s more (15 equalizer ticks, several placement retries): still one report and one warn line, no worker claimed
    await sleep(3000)
    expect(unplaceable).toHaveLength(1)
    expect(warnings.filter(w => w.msg.includes('cannot be placed'))).toEqual([expect.objectContaining({ reason: 'no agents in the grid' })])
    expect(scaled).toEqual([])
    expect(run.stats().stages[0]!.workers).toBe(0)

    const agent = await grid.start('n2', [...AGENT, '--peer', member.address])
    const summary = await run.done
    expect(summary).toMatchObject({ in: 500, out: 500, failed: 0 })
    expect(seen.size).toBe(500)
    expect(unplaceable).toHaveLength(1)
    expect(owner.members().find(m => m.id === agent.peerId)?.role).toBe('agent')
  }, 60_000)

  it('placementTimeoutMs: a stage no agent has room for rejects done with NoCapacityError naming what the agent lacks', async () => {
    const agent = await eventually(() => owner.members().find(m => m.role === 'agent' && m.state === 'alive'))
    const unplaceable: UnplaceableStage[] = []
    const t0 = Date.now()
    const run = owner.pipeline('too-big', {
      source: range(10),
      stages: [{ name: 'huge', module: stage('plain.mjs'), resources: { cpu: 64 } }],
      sink: () => {},
      placementTimeoutMs: 1500
    })
    run.on('stage:unplaceable', e => { unplaceable.push(e) })
    const err = await run.done.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(NoCapacityError)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500)
    expect((err as NoCapacityError).shortfalls).toEqual([{ agentId: agent.id, lacks: ['cpu: needs 64, has 8 free'] }])
    expect(unplaceable).toEqual([{ stage: 'huge', reason: `${agent.id} lacks cpu: needs 64, has 8 free`, shortfalls: [{ agentId: agent.id, lacks: ['cpu: needs 64, has 8 free'] }] }])
  }, 30_000)

  it('workers.spawn with placementTimeoutMs tries again until the time is up, then throws NoCapacityError', async () => {
    const t0 = Date.now()
    const err = await owner.workers.spawn({ stage: 'huge', module: stage('plain.mjs'), resources: { cpu: 64 } }, { placementTimeoutMs: 1200 }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(NoCapacityError)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200)
    // without it, the answer is immediate
    const t1 = Date.now()
    await expect(owner.workers.spawn({ stage: 'huge', module: stage('plain.mjs'), resources: { cpu: 64 } })).rejects.toBeInstanceOf(NoCapacityError)
    expect(Date.now() - t1).toBeLessThan(1000)
  }, 30_000)
})
