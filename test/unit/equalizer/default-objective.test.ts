import { describe, it, expect } from 'vitest'
import { decide, defaultLatencyObjectiveMs, DEFAULT_OBJECTIVE_ITEMS, INITIAL_STATE } from '../../../src/equalizer/index.ts'
import type { EqualizerConfig, EqualizerInput } from '../../../src/equalizer/index.ts'

const MU = 40
const CONFIG: EqualizerConfig = { minWorkers: 1, maxWorkers: 64, utilization: 0.9, deadBand: 0.1, drainMs: 10_000, scaleDownAfterMs: 10_000, warmupTicks: 2 }
const BASE: EqualizerInput = { workers: 9, starting: 0, arrivalRate: 300, processingRate: MU, throughput: 300, saturated: false, downstreamBlocked: false, queued: 0, capacityLimit: 100, nowMs: 0 }

describe('the default latency objective: a few items\' work', () => {
  it('is DEFAULT_OBJECTIVE_ITEMS items\' work of one worker, never under as many credit windows\' budget', () => {
    expect(DEFAULT_OBJECTIVE_ITEMS).toBe(4)
    // 25 ms items (μ 40/s): 100 ms; with concurrency 4 an item takes a worker's slot for 100 ms: 400 ms
    expect(defaultLatencyObjectiveMs({ perWorkerRate: 40, concurrency: 1, windowMs: 10 })).toBe(100)
    expect(defaultLatencyObjectiveMs({ perWorkerRate: 40, concurrency: 4, windowMs: 10 })).toBe(400)
    // 1 ms items: 4 windows of 10 ms, so a cheap stage's batches are never taken for a backlog
    expect(defaultLatencyObjectiveMs({ perWorkerRate: 1000, concurrency: 1, windowMs: 10 })).toBe(40)
    expect(defaultLatencyObjectiveMs({ perWorkerRate: 0, concurrency: 1, windowMs: 10 })).toBeUndefined()
  })

  it('sizes a backlog beyond the windows that outlived the reaction: at most DEFAULT_OBJECTIVE_ITEMS queued per worker', () => {
    const config = { ...CONFIG, defaultObjectiveMs: 100 }
    // 300/s at μ 40 and 90 %: 9 workers; 80 queued beyond the windows (a stall) want ⌈80 / 4⌉ = 20
    const input = { ...BASE, waiting: 215, queued: 80 }
    expect(decide(input, CONFIG, { ticksSinceAction: 10 }).target).toBe(9)
    expect(decide(input, config, { ticksSinceAction: 10 })).toMatchObject({ target: 20, action: 'spawn' })
    // what the windows hold (up to 15 behind each running item by default) is the dispatch's own budget
    expect(decide({ ...input, waiting: 135, queued: 0 }, config, { ticksSinceAction: 10 }).action).toBe('none')
    // a named objective counts it: ⌈215 / 4⌉
    expect(decide(input, { ...CONFIG, latencyObjectiveMs: 100 }, { ticksSinceAction: 10 }).target).toBe(54)
  })

  it('holds back while a sized scale-up\'s backlog drains (a held-back source catching up), where a named objective does not', () => {
    // a 10× step just sized from its rate, its source catching up: 256 queued
    const input = { ...BASE, workers: 10, arrivalRate: 400, throughput: 380, saturated: true, queued: 256, waiting: 280 }
    const justSized = { ticksSinceAction: 3, lastScaledUp: true }
    expect(decide(input, { ...CONFIG, defaultObjectiveMs: 100 }, justSized).target).toBeLessThanOrEqual(13)
    expect(decide(input, { ...CONFIG, latencyObjectiveMs: 100 }, justSized).target).toBe(64)
    // once that has passed, it counts again
    expect(decide(input, { ...CONFIG, defaultObjectiveMs: 100 }, { ticksSinceAction: 5, lastScaledUp: true }).target).toBe(64)
  })

  it('gives way to the stage\'s own objective', () => {
    const input = { ...BASE, waiting: 90, queued: 80 }
    expect(decide(input, { ...CONFIG, defaultObjectiveMs: 100, latencyObjectiveMs: 1000 }, { ticksSinceAction: 10 }).target).toBe(9)
  })
})
