import { describe, it, expect, afterEach, vi } from 'vitest'
import { EqualizerLoop, judgeScaleUp, withinUsefulLimit, USEFUL_LIMIT_HOLD_MS, USEFUL_LIMIT_MAX_HOLD_MS } from '../../../src/equalizer/index.ts'
import type { EqualizedStage, StageSample, UsefulLimit } from '../../../src/equalizer/index.ts'

afterEach(() => { vi.useRealTimers() })

describe('judgeScaleUp: did the workers added raise the capacity?', () => {
  const settled = { utilization: 0.9 }
  it('CPU-bound workers beyond the cores: 1 → 3 workers at 20/s each became 3 at 8/s (24/s): limited to the 2 workers that is worth', () => {
    const limit = judgeScaleUp({ from: 1, mu: 20 }, { ...settled, workers: 3, mu: 8, arrivalRate: 40 }, 1000)
    expect(limit).toEqual({ workers: 2, untilMs: 1000 + USEFUL_LIMIT_HOLD_MS, holdMs: USEFUL_LIMIT_HOLD_MS, before: 20, after: 24, strikes: 1 })
    // the same again, in a row: held twice as long, and never longer than the longest hold
    expect(judgeScaleUp({ from: 1, mu: 20 }, { ...settled, workers: 3, mu: 8, arrivalRate: 40 }, 1000, limit)).toMatchObject({ strikes: 2, untilMs: 1000 + 2 * USEFUL_LIMIT_HOLD_MS })
    expect(judgeScaleUp({ from: 1, mu: 20 }, { ...settled, workers: 3, mu: 8, arrivalRate: 40 }, 0, { ...limit!, strikes: 20 })).toMatchObject({ strikes: 21, untilMs: USEFUL_LIMIT_MAX_HOLD_MS })
  })

  it('workers that made it worse: back to the size before the scale-up, never under one worker', () => {
    expect(judgeScaleUp({ from: 2, mu: 20 }, { ...settled, workers: 8, mu: 4, arrivalRate: 60 }, 0)).toMatchObject({ workers: 2, before: 40, after: 32 })
    expect(judgeScaleUp({ from: 0, mu: 20 }, { ...settled, workers: 4, mu: 1, arrivalRate: 60 }, 0)).toMatchObject({ workers: 1 })
  })

  it('workers that brought half or more of their rate, or a stage that now keeps up, are no reason to hold', () => {
    // 1 → 3 at 15/s each: +25/s of the +40/s expected
    expect(judgeScaleUp({ from: 1, mu: 20 }, { ...settled, workers: 3, mu: 15, arrivalRate: 60 }, 0)).toBeUndefined()
    // μ fell, but 3 × 8/s now carries λ = 20/s: the scale-up did its job
    expect(judgeScaleUp({ from: 1, mu: 20 }, { ...settled, workers: 3, mu: 8, arrivalRate: 20 }, 0)).toBeUndefined()
    // workers lost since: nothing to judge
    expect(judgeScaleUp({ from: 3, mu: 20 }, { ...settled, workers: 2, mu: 8, arrivalRate: 60 }, 0)).toBeUndefined()
    // no rate measured
    expect(judgeScaleUp({ from: 1, mu: 0 }, { ...settled, workers: 3, mu: 8, arrivalRate: 60 }, 0)).toBeUndefined()
  })
})

describe('withinUsefulLimit', () => {
  const limit: UsefulLimit = { workers: 3, untilMs: 10_000, holdMs: 10_000, before: 20, after: 24, strikes: 1 }
  it('caps the target while the limit holds, and no longer', () => {
    expect(withinUsefulLimit(8, limit, 5000)).toBe(3)
    expect(withinUsefulLimit(2, limit, 5000)).toBe(2)
    expect(withinUsefulLimit(8, limit, 10_000)).toBe(8)
    expect(withinUsefulLimit(8, undefined, 0)).toBe(8)
  })
})

/** A stage one worker at a time: its sample is what the test writes; it records what the loop asked. */
function stubStage (): EqualizedStage & { now: StageSample, scaled: number[] } {
  const stage = {
    name: 'primes',
    minWorkers: 1,
    maxWorkers: 8,
    latencyObjectiveMs: 60_000,
    now: { arrivals: 0, processed: 0, busyMs: 0, upstreamWaits: 0, upstreamWaiting: false, downstreamBlocks: 0, downstreamBlocked: false, queued: 0, inFlight: 0, workers: 1, starting: 0 } as StageSample,
    scaled: [] as number[],
    sample: () => ({ ...stage.now }),
    scale: (delta: number) => { stage.scaled.push(delta); stage.now = { ...stage.now, workers: stage.now.workers + delta } },
    adaptWindow: () => {}
  }
  return stage
}

/** Runs `seconds` ticks of λ = 40/s against workers that together do `total(workers)` items/s, all busy. */
async function run (stage: ReturnType<typeof stubStage>, seconds: number, total: (workers: number) => number): Promise<void> {
  for (let s = 0; s < seconds; s++) {
    const done = total(stage.now.workers)
    stage.now = { ...stage.now, arrivals: stage.now.arrivals + 40, processed: stage.now.processed + done, busyMs: stage.now.busyMs + 1000 * stage.now.workers }
    await vi.advanceTimersByTimeAsync(1000)
  }
}

/** A loop (1 s ticks, fake timers) over a fresh stub stage; `held` lists the limits it set, in workers. */
function startLoop (): { stage: ReturnType<typeof stubStage>, loop: EqualizerLoop, held: number[] } {
  vi.useFakeTimers()
  const stage = stubStage()
  const held: number[] = []
  const loop = new EqualizerLoop([stage], { tickMs: 1000, utilization: 0.9, drainMs: 10_000, scaleDownAfterMs: 10_000 }, () => 100, () => {}, (_name, limit) => { held.push(limit.workers) })
  loop.start()
  return { stage, loop, held }
}

describe('the loop holds a stage whose added workers did not help', () => {
  it('on 2 cores (20/s per core, 40/s asked): limited to what the workers were worth, not grown to the maximum', async () => {
    const { stage, loop, held } = startLoop()
    // the CPU is shared: any number of workers does at most 40/s… minus what the rest of the machine takes
    await run(stage, 20, workers => Math.min(20 * workers, 30))
    loop.stop()
    // one scale-up sized from μ = 20/s: ⌈40 / 18⌉ = 3; at 3, μ reads 10/s: 30/s where 20 + 40 were
    // expected, the worth of ⌈30 / 20⌉ = 2 workers: the third is drained after scaleDownAfterMs
    expect(stage.scaled).toEqual([2, -1])
    expect(held).toEqual([2])
  })

  it('workers that scale linearly are never held: the stage grows to what λ needs', async () => {
    const { stage, loop, held } = startLoop()
    await run(stage, 20, workers => 20 * workers)
    loop.stop()
    expect(stage.scaled).toEqual([2])
    expect(held).toEqual([])
  })
})

describe('one slow reading is not a bottleneck', () => {
  it('workers that scale linearly, read slow on one tick past their warm-up (a stalled machine): never limited', async () => {
    const { stage, loop, held } = startLoop()
    let second = 0
    // the scale-up to 3 comes at the 3rd tick, its warm-up ends at the 5th: the stall is on the first judgement
    await run(stage, 20, workers => ++second === 6 ? 5 * workers : 20 * workers)
    loop.stop()
    expect(stage.scaled).toEqual([2])
    expect(held).toEqual([])
  })
})
