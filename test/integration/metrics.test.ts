import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { freemem } from 'node:os'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { GridNode } from '../../src/node.ts'
import { metricsAddon } from '../../src/metrics/addon.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { freePort } from './helpers/ports.ts'
import { parse, sum, value } from './helpers/prom-text.ts'
import type { Sample } from './helpers/prom-text.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))

describe('the metrics add-on, scraped', () => {
  let grid: GridFixture
  let agent: GridProcess
  let owner: GridNode
  let url: string

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    agent = await grid.start('n1', ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096'])
    const port = await freePort()
    url = `http://127.0.0.1:${port}/metrics`
    owner = await grid.member('n2', agent, 1, { addons: [[metricsAddon, { port }]] })
  })

  afterAll(async () => {
    await grid?.close()
  })

  const scrape = async (): Promise<Sample[]> => parse(await (await fetch(url)).text())
  const decisionsTotal = async (): Promise<number> => sum(await scrape(), 'gridd_equalizer_decisions_total')

  it('exposes members, load, stage rates, pressure, item counters, decisions and connections with their values', async () => {
    const decisionsBefore = await decisionsTotal()
    const run = owner.pipeline('scraped', { stages: [{ name: 'double', module: stage('plain.mjs'), minWorkers: 2, maxWorkers: 2 }], sink: () => {}, equalizeMs: 200 })
    // a steady feed (~1000 items/s for at most 3 s), so the rates are live while we scrape
    let pushed = 0
    const feeding = (async () => {
      while (pushed < 3000) {
        for (let k = 0; k < 10; k++) await run.push(++pushed)
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    })()
    // mid-run: the stage gauges describe the running pipeline, once both its workers run (the gauge counts
    // running workers; on a loaded machine the second can start after the first has items through)
    const live = await eventually(async () => {
      const samples = parse(await (await fetch(url)).text())
      const labels = { pipeline: 'scraped', stage: 'double' }
      const running = run.stats().stages[0]!.workers === 2
      return running && (value(samples, 'gridd_stage_processing_rate', labels) ?? 0) > 0 && (value(samples, 'gridd_stage_arrival_rate', labels) ?? 0) > 0 ? samples : undefined
    }, 10_000, 50)
    await feeding
    expect(value(live, 'gridd_members', { state: 'alive' })).toBe(2)
    expect(value(live, 'gridd_members', { state: 'failed' })).toBe(0)
    expect(value(live, 'gridd_stage_workers', { pipeline: 'scraped', stage: 'double' })).toBe(2)
    expect(value(live, 'gridd_stage_arrival_rate', { pipeline: 'scraped', stage: 'double' })).toBeGreaterThan(0)
    // the feed offers at most ~1000 items/s: an arrival rate far above that would be a unit mix-up
    expect(value(live, 'gridd_stage_arrival_rate', { pipeline: 'scraped', stage: 'double' })).toBeLessThan(5000)
    const window = value(live, 'gridd_stage_window', { pipeline: 'scraped', stage: 'double' })!
    expect(window).toBeGreaterThanOrEqual(2)
    expect(window).toBeLessThanOrEqual(1024)
    // in flight: at most a full window on each of the 2 workers; queued: at most the stage queue (256)
    expect(value(live, 'gridd_stage_in_flight', { pipeline: 'scraped', stage: 'double' })).toBeLessThanOrEqual(2 * window)
    expect(value(live, 'gridd_stage_queue_length', { pipeline: 'scraped', stage: 'double' })).toBeLessThanOrEqual(256)
    const pressures = ['high', 'even', 'low'].map(p => value(live, 'gridd_stage_pressure', { pipeline: 'scraped', stage: 'double', pressure: p }))
    expect(pressures.filter(p => p === 1)).toHaveLength(1)
    expect(pressures.filter(p => p === 0)).toHaveLength(2)
    // one peer (the agent): one connection, or two if both sides dialled at once
    expect(value(live, 'gridd_libp2p_connections')).toBeGreaterThanOrEqual(1)
    expect(value(live, 'gridd_libp2p_connections')).toBeLessThanOrEqual(2)
    // not an agent: no module cache
    expect(value(live, 'gridd_module_cache_bytes')).toBe(0)
    // this machine's free memory, as the OS reports it (within 25 %: other processes come and go)
    const freeMb = freemem() / 1024 / 1024
    expect(Math.abs(value(live, 'gridd_load', { measure: 'memory_free_mb' })! - freeMb)).toBeLessThan(freeMb * 0.25)
    run.end()
    const summary = await run.done
    // after the run: the counters keep its totals
    const after = await scrape()
    expect(value(after, 'gridd_items_processed_total', { pipeline: 'scraped', stage: 'double' })).toBe(3000)
    expect(value(after, 'gridd_items_failed_total', { pipeline: 'scraped', stage: 'double' })).toBe(0)
    expect(value(after, 'gridd_items_retried_total', { pipeline: 'scraped', stage: 'double' })).toBe(0)
    expect(sum(after, 'gridd_equalizer_decisions_total')).toBe(decisionsBefore + summary.stages[0]!.decisions)
    expect(value(after, 'gridd_equalizer_decisions_total', { pipeline: 'scraped', stage: 'double' })).toBe(summary.stages[0]!.decisions)
    expect(after.some(s => s.name === 'gridd_stage_workers')).toBe(false)
  }, 60_000)

  it('gridd_equalizer_decisions_total counts the equalizer actions the run summaries report, by pipeline and stage', async () => {
    const before = await decisionsTotal()
    const run = owner.pipeline('scaling', { stages: [{ name: 'io', module: stage('sleep.mjs'), minWorkers: 1, maxWorkers: 3 }], sink: () => {}, equalizeMs: 200 })
    let scaledUp = false
    run.on('stage:scaled', e => { if (e.delta > 0 && e.workers > 1) scaledUp = true })
    // ~300 items/s of 20 ms each against one worker: the equalizer must add workers. Fed until it has
    // (however long a loaded machine takes), bounded at 30 s
    const until = Date.now() + 30_000
    while (Date.now() < until && !scaledUp) {
      for (let k = 0; k < 3; k++) await run.push({ ms: 20 })
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    run.end()
    const summary = await run.done
    expect(scaledUp).toBe(true)
    const decided = summary.stages.reduce((n, s) => n + s.decisions, 0)
    expect(decided).toBeGreaterThanOrEqual(1)
    const after = parse(await (await fetch(url)).text())
    expect(sum(after, 'gridd_equalizer_decisions_total')).toBe(before + decided)
    // by stage: an operator sees which one the equalizer acts on
    expect(value(after, 'gridd_equalizer_decisions_total', { pipeline: 'scaling', stage: 'io' })).toBe(decided)
    expect(value(after, 'gridd_items_processed_total', { pipeline: 'scaling', stage: 'io' })).toBe(summary.in)
  }, 60_000)

  it('a stalled stage: the queue and in-flight gauges show its exact counts', async () => {
    // one worker, a window of 16, concurrency 1, and items that take a minute: 16 go out, the rest wait
    const run = owner.pipeline('stalled', { stages: [{ name: 'hold', module: stage('sleep.mjs'), minWorkers: 1, maxWorkers: 1 }], sink: () => {}, window: 16, maxWindow: 16, equalize: false })
    try {
      for (let i = 0; i < 20; i++) await run.push({ ms: 60_000 })
      const labels = { pipeline: 'stalled', stage: 'hold' }
      const samples = await eventually(async () => {
        const s = await scrape()
        return value(s, 'gridd_stage_in_flight', labels) === 16 ? s : undefined
      }, 20_000)
      expect(value(samples, 'gridd_stage_queue_length', labels)).toBe(4)
      expect(value(samples, 'gridd_stage_workers', labels)).toBe(1)
      expect(value(samples, 'gridd_stage_window', labels)).toBe(16)
      expect(run.stats().stages[0]).toMatchObject({ queued: 4, inFlight: 16 })
    } finally {
      run.cancel()
      await run.done.catch(() => {})
    }
  }, 60_000)

  it('counts the tasks this node owns by final status, with their latency, over HTTP', async () => {
    const task = (name: string): string => fileURLToPath(new URL(`../fixtures/tasks/${name}`, import.meta.url))
    expect(await Promise.all([1, 2, 3].map(async n => await owner.run(task('square.mjs'), n)))).toEqual([1, 4, 9])
    await expect(owner.run(task('fails.mjs'), 'x')).rejects.toMatchObject({ code: 'ERR_TASK_FAILED' })
    const samples = await scrape()
    expect(value(samples, 'gridd_tasks_total', { status: 'completed' })).toBe(3)
    expect(value(samples, 'gridd_tasks_total', { status: 'failed' })).toBe(1)
    expect(value(samples, 'gridd_tasks_total', { status: 'cancelled' })).toBe(0)
    expect(value(samples, 'gridd_tasks_open', { status: 'running' })).toBe(0)
    expect(value(samples, 'gridd_task_duration_seconds_count')).toBe(4)
    expect(value(samples, 'gridd_task_duration_seconds_bucket', { le: '+Inf' })).toBe(4)
    // a round trip through the agent's workers, the first one started for it: well under a minute
    expect(value(samples, 'gridd_task_duration_seconds_bucket', { le: '60' })).toBe(4)
  }, 60_000)

  it('an agent process serves its own metrics with --metrics: its workers by stage', async () => {
    const port = await freePort()
    // weight 100: placement prefers this agent for the next worker
    const dataDir = join(grid.dir, 'data-n3')
    const metered = await grid.start('n3', ['--agent', '--workers', '2', '--cpu', '2', '--memory', '2048', '--weight', '100', '--metrics', String(port), '--peer', agent.address, '--data-dir', dataDir])
    await metered.firstLine(l => l.msg === 'metrics listening')
    await eventually(() => owner.members().some(m => m.id === metered.peerId && m.state === 'alive') ? true : undefined)
    const worker = await owner.workers.spawn({ stage: 'metered', module: stage('plain.mjs') })
    try {
      expect(worker.agentId).toBe(metered.peerId)
      const samples = parse(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
      expect(value(samples, 'gridd_agent_workers', { stage: 'metered' })).toBe(1)
      expect(value(samples, 'gridd_load', { measure: 'max_workers' })).toBe(2)
      expect(value(samples, 'gridd_members', { state: 'alive' })).toBe(3)
      // the stage's bundle was shipped into its module cache: what the files there take, in whole 4 KiB blocks
      const modules = join(dataDir, 'modules')
      const files = (await readdir(modules)).filter(f => f.endsWith('.mjs'))
      expect(files).toHaveLength(1)
      const onDisk = (await Promise.all(files.map(async f => (await stat(join(modules, f))).size))).reduce((n, size) => n + Math.max(1, Math.ceil(size / 4096)) * 4096, 0)
      expect(value(samples, 'gridd_module_cache_bytes')).toBe(onDisk)
      // the agent process's own figures, under the names stock Node.js dashboards read
      expect(value(samples, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024)
      expect(value(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0)
      expect(value(samples, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0)
      expect(value(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0)
    } finally {
      await worker.kill()
    }
  }, 60_000)
})
