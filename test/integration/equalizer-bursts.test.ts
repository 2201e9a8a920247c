import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '8', '--cpu', '8', '--memory', '8192']

describe('the equalizer under a burst, across a real agent process', () => {
  let grid: GridFixture
  let agents: GridProcess[]
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    agents = await grid.startAgents(1, AGENT)
    owner = await grid.member('n2', agents[0]!, 1)
  })

  afterAll(async () => { await grid?.close() })

  it('a burst scales the stage up between ticks, a latency objective keeps worker windows short, and it drains back losing nothing', async () => {
    const scaled: Array<{ t: number, delta: number, workers: number, reason: string }> = []
    const seen = new Set<number>()
    const t0 = performance.now()
    const run = owner.pipeline('burst', {
      stages: [{ name: 'io', module: stage('sleep.mjs'), minWorkers: 1, maxWorkers: 8, latencyObjectiveMs: 100 }],
      sink: (item) => { seen.add((item as { id: number }).id) },
      // ticks slow enough that a scale-up within a burst must come from the arrivals, not from a tick
      equalizeMs: 4000,
      scaleDownAfterMs: 1000
    })
    run.on('stage:scaled', e => { scaled.push({ t: performance.now() - t0, ...e }) })
    let id = 0
    /** Feeds `perTick` items of 20 ms every `everyMs` (timers stretch on a loaded machine: the rate is a ceiling). */
    const feed = async (perTick: number, everyMs: number, until: () => boolean): Promise<void> => {
      while (!until()) {
        for (let k = 0; k < perTick; k++) await run.push({ id: id++, ms: 20 })
        await new Promise(resolve => setTimeout(resolve, everyMs))
      }
    }
    // a light base load (≤ 10 items/s, one worker has room for 50/s) until three ticks have measured μ
    // past the start's warm-up
    const warm = performance.now() + 3 * 4000 + 500
    await feed(1, 100, () => performance.now() > warm)
    const ups = (): typeof scaled => scaled.filter(e => e.delta > 0 && !e.reason.includes('respawn'))
    expect(ups(), 'the base load needs no more workers').toEqual([])
    // the burst: up to 300 items/s, until a scale-up comes (bounded at 3 s, under a tick)
    const burstAt = performance.now() - t0
    await feed(3, 10, () => ups().length > 0 || performance.now() - t0 - burstAt > 3000)
    const first = ups()[0]
    expect(first, JSON.stringify(scaled)).toBeDefined()
    expect(first!.reason).toContain('arrivals outrun the workers')
    expect(first!.workers).toBeGreaterThanOrEqual(3)
    // the objective (100 ms at ≤ 50 items/s per worker) caps each worker's window at ≤ 5 items (16 without it)
    expect(run.stats().stages[0]!.window).toBeLessThanOrEqual(5)
    // the new workers come up (however long a loaded machine takes to start them)
    await eventually(() => run.stats().stages[0]!.workers >= 3 ? true : undefined, 30_000)
    // input stops: after scaleDownAfterMs of low pressure, the surplus is drained back to minWorkers. Only a
    // tick drains (every 4 s), past the warm-up of 2 ticks after the last scaling: 4-5 ticks, 15 s seen under
    // load, and each later scaling (a backlog left by the burst) starts that count again
    await eventually(() => run.stats().stages[0]!.workers === 1 ? true : undefined, 60_000)
    expect(scaled.some(e => e.delta < 0)).toBe(true)
    run.end()
    const summary = await run.done
    expect(summary).toMatchObject({ in: id, out: id, failed: 0 })
    expect(seen.size).toBe(id)
  }, 150_000)
})
