import { describe, it, expect, vi, afterEach } from 'vitest'
import { EqualizerLoop, decide, INITIAL_STATE, workersFor, STAFFING_BETA } from '../../../src/equalizer/index.ts'
import type { EqualizerConfig, EqualizedStage, StageSample } from '../../../src/equalizer/index.ts'

afterEach(() => { vi.useRealTimers() })

describe('square-root staffing', () => {
  it('gives a small load relatively more headroom than a flat utilization, a large one the flat rule', () => {
    // a = 0.7 workers' worth: 90 % alone keeps one worker 70 % busy; a + 0.5·√a = 1.12 asks for 2
    expect(workersFor(0.7, 0.9, 0)).toBe(1)
    expect(workersFor(0.7, 0.9)).toBe(2)
    // a = 8: 8 / 0.9 = 8.9 → 9; 8 + 0.5·√8 = 9.41 → 10
    expect(workersFor(8, 0.9, 0)).toBe(9)
    expect(workersFor(8, 0.9)).toBe(10)
    // a = 100: β√a = 5 workers, under the 11 of a 90 % cap: the cap rules
    expect(workersFor(100, 0.9)).toBe(112)
    expect(workersFor(100, 0.9, 0)).toBe(112)
  })

  it('is never under the flat rule, never under the load, monotonic in the load, and 0 for no load', () => {
    expect(workersFor(0, 0.9)).toBe(0)
    expect(workersFor(Number.NaN, 0.9)).toBe(0)
    let previous = 0
    for (let a = 0.01; a < 200; a *= 1.07) {
      const n = workersFor(a, 0.9)
      expect(n).toBeGreaterThanOrEqual(workersFor(a, 0.9, 0))
      expect(n).toBeGreaterThanOrEqual(a + STAFFING_BETA * Math.sqrt(a) - 1e-9)
      expect(n).toBeGreaterThanOrEqual(previous)
      previous = n
    }
  })

  it('an exact fit is not rounded up by float error', () => {
    // 9 workers' worth at utilization 1 and β 0: exactly 9
    expect(workersFor(0.9 * 10, 1, 0)).toBe(9)
  })

  it('decide sizes with it when the config names β, as before when not', () => {
    const config: EqualizerConfig = { minWorkers: 1, maxWorkers: 32, utilization: 0.9, deadBand: 0.1, drainMs: 10_000, scaleDownAfterMs: 10_000, warmupTicks: 2 }
    const input = { workers: 1, starting: 0, arrivalRate: 35, processingRate: 50, throughput: 35, saturated: false, downstreamBlocked: false, queued: 0, capacityLimit: 100, nowMs: 0 }
    expect(decide(input, config, INITIAL_STATE).target).toBe(1)
    const sized = decide(input, { ...config, staffingBeta: STAFFING_BETA }, INITIAL_STATE)
    expect(sized).toMatchObject({ target: 2, action: 'spawn', pressure: 'high' })
  })

  it('the loop sizes with β = STAFFING_BETA unless told otherwise, and a stage that names an objective by the rate and its objective alone', async () => {
    expect(await settledDeltas(undefined)).toEqual([1])
    // an objective so loose that nothing waits long enough to breach it: one worker 70 % busy is enough
    expect(await settledDeltas(60_000)).toEqual([])
  })
})

/** What the loop asks of a stage offered 35 items/s, taken by one worker busy 70 % of each second (μ = 50/s: a = 0.7). */
async function settledDeltas (latencyObjectiveMs: number | undefined): Promise<number[]> {
  vi.useFakeTimers()
  const scaled: number[] = []
  const now: StageSample = { arrivals: 0, processed: 0, busyMs: 0, upstreamWaits: 0, upstreamWaiting: false, downstreamBlocks: 0, downstreamBlocked: false, queued: 0, inFlight: 0, workers: 1, starting: 0 }
  const stage: EqualizedStage = {
    name: 'io',
    minWorkers: 1,
    maxWorkers: 16,
    latencyObjectiveMs,
    sample: () => ({ ...now }),
    scale: (delta: number) => { scaled.push(delta) },
    adaptWindow: () => {},
    onArrival: () => {}
  }
  const loop = new EqualizerLoop([stage], { tickMs: 1000, utilization: 0.9, drainMs: 10_000, scaleDownAfterMs: 10_000 }, () => 100, () => {})
  loop.start()
  // 35 items/s offered and processed by one worker busy 70 % of each second (μ = 50/s): a = 0.7
  for (let t = 1; t <= 4; t++) {
    Object.assign(now, { arrivals: 35 * t, processed: 35 * t, busyMs: 700 * t })
    await vi.advanceTimersByTimeAsync(1000)
  }
  loop.stop()
  vi.useRealTimers()
  return scaled
}
