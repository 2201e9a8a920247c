import { describe, it, expect, afterEach, vi } from 'vitest'
import { EqualizerLoop } from '../../../src/equalizer/index.ts'
import { measureMu, reactWindowMs, trendOf } from '../../../src/equalizer/loop.ts'
import type { EqualizedStage, StageSample } from '../../../src/equalizer/index.ts'

/** A stage stub: its sample is whatever the test put there; it records what the loop asked of it. */
function stubStage (name: string): EqualizedStage & { now: StageSample, scaled: number[], windows: number[], arrived: () => void } {
  const stage = {
    name,
    minWorkers: 1,
    maxWorkers: 16,
    now: { arrivals: 0, processed: 0, busyMs: 0, upstreamWaits: 0, upstreamWaiting: false, downstreamBlocks: 0, downstreamBlocked: false, queued: 0, inFlight: 0, workers: 1, starting: 0 } as StageSample,
    scaled: [] as number[],
    windows: [] as number[],
    sample: () => ({ ...stage.now }),
    scale: (delta: number) => { stage.scaled.push(delta) },
    adaptWindow: (rate: number) => { stage.windows.push(rate) },
    arrived: () => {},
    onArrival: (listener: () => void) => { stage.arrived = listener }
  }
  return stage
}

afterEach(() => { vi.useRealTimers() })

/**
 * Starts a loop on `stage` (1 s ticks) and runs it for three steady seconds past the start's warm-up:
 * 10 items/s, one worker at μ = 10/s. Returns the loop and a step of one 100 ms window between ticks.
 */
async function steadyLoop (stage: ReturnType<typeof stubStage>): Promise<{ loop: EqualizerLoop, window: (arrivals: number, queued: number) => Promise<void> }> {
  const loop = new EqualizerLoop([stage], { tickMs: 1000, utilization: 1, staffingBeta: 0, drainMs: 10_000, scaleDownAfterMs: 10_000 }, () => 100, () => {})
  loop.start()
  for (let t = 1; t <= 3; t++) {
    stage.now = { ...stage.now, arrivals: 10 * t, processed: 10 * t, busyMs: 1000 * t }
    await vi.advanceTimersByTimeAsync(1000)
  }
  const window = async (arrivals: number, queued: number): Promise<void> => {
    await vi.advanceTimersByTimeAsync(100)
    stage.now = { ...stage.now, arrivals: stage.now.arrivals + arrivals, queued }
    stage.arrived()
  }
  return { loop, window }
}


describe('EqualizerLoop over stage samples', () => {
  it('measures λ and μ from the differences of cumulative samples and asks a bottleneck stage to grow', async () => {
    vi.useFakeTimers()
    // an objective so loose that only the rate and the drainMs backlog size the stage
    const stage = Object.assign(stubStage('io'), { latencyObjectiveMs: 60_000 })
    const scaled: Array<[string, number, number]> = []
    const loop = new EqualizerLoop([stage], { tickMs: 1000, utilization: 1, staffingBeta: 0, drainMs: 10_000, scaleDownAfterMs: 10_000 }, () => 100, (s, workers, delta) => { scaled.push([s, workers, delta]) })
    loop.start()
    // each second: 100 items offered, 10 processed by one worker busy the whole second (μ = 10/s)
    for (let t = 1; t <= 3; t++) {
      stage.now = { ...stage.now, arrivals: 100 * t, processed: 10 * t, busyMs: 1000 * t, queued: 90 * t }
      await vi.advanceTimersByTimeAsync(1000)
    }
    loop.stop()
    expect(loop.rates(0)).toMatchObject({ arrivalRate: 100, processingRate: 10, pressure: 'high' })
    // two warm-up ticks after the start, then one decision: ⌈(100 + 270 / 10) / 10⌉ = 13 workers
    expect(stage.scaled).toEqual([12])
    expect(scaled).toEqual([['io', 13, 12]])
    expect(stage.windows.at(-1)).toBe(10)
  })

  it('a stage whose wanted workers are still being placed (starting) is not asked for more', async () => {
    vi.useFakeTimers()
    const stage = stubStage('stuck')
    stage.now = { ...stage.now, workers: 0, starting: 1, queued: 256, arrivals: 256, upstreamWaiting: true }
    const loop = new EqualizerLoop([stage], { tickMs: 100, utilization: 0.9, drainMs: 10_000, scaleDownAfterMs: 10_000 }, () => 0, () => {})
    loop.start()
    await vi.advanceTimersByTimeAsync(2000)
    loop.stop()
    expect(stage.scaled).toEqual([])
  })

  it('between ticks, arrivals that outrun the workers over two windows and grow the backlog scale the stage up at once', async () => {
    vi.useFakeTimers()
    const stage = stubStage('burst')
    // steady seconds past the start's warm-up (a μ measured while workers start, slowed by their
    // loading, is not used between ticks)
    const { loop, window } = await steadyLoop(stage)
    await window(1, 0) // steady
    // a one-window spike (a source catching up) with a backlog: not a rate, nothing
    await window(20, 19)
    await window(1, 20)
    expect(stage.scaled).toEqual([])
    // 200/s over two windows, the backlog growing: 20 workers wanted (max 16)
    await window(20, 30)
    await window(20, 40)
    // a second arrival inside the same 100 ms window is not measured again
    stage.arrived()
    expect(stage.scaled).toEqual([15])
    // after the action, two fresh windows before the next one
    await window(20, 50)
    loop.stop()
    expect(stage.scaled).toEqual([15])
  })

  it('with a latency objective, one window whose backlog already breaches it is enough to scale up', async () => {
    vi.useFakeTimers()
    const stage = Object.assign(stubStage('objective'), { latencyObjectiveMs: 1000 })
    const { loop, window } = await steadyLoop(stage)
    await window(1, 0)
    // 5 waiting at μ = 10/s is 500 ms of queueing: within the objective, a one-window spike is not a rate
    await window(6, 5)
    expect(stage.scaled).toEqual([])
    // 15 waiting is 1.5 s: the objective is breached, so this window's 100/s sizes the stage now:
    // ⌈(100 + 15 / 10 s) / 10⌉ = 11 workers
    await window(10, 15)
    expect(stage.scaled).toEqual([10])
    // the first window after an action may read a held-back source released by it (300/s): not alone
    await window(30, 40)
    await window(1, 41)
    expect(stage.scaled).toEqual([10])
    // while workers start, the backlog is theirs to drain: one window's 300/s is not acted on either
    stage.now = { ...stage.now, starting: 5 }
    await window(30, 60)
    loop.stop()
    expect(stage.scaled).toEqual([10])
  })

  it('a tight objective is watched in windows of half of it: a burst that breaches 100 ms is acted on 50 ms in', async () => {
    vi.useFakeTimers()
    const run = async (latencyObjectiveMs?: number): Promise<number[]> => {
      const stage = Object.assign(stubStage('tight'), { latencyObjectiveMs })
      const { loop } = await steadyLoop(stage)
      const halfWindow = async (arrivals: number, queued: number): Promise<void> => {
        await vi.advanceTimersByTimeAsync(50)
        stage.now = { ...stage.now, arrivals: stage.now.arrivals + arrivals, queued }
        stage.arrived()
      }
      await halfWindow(1, 0)
      // 200/s for 50 ms, 5 waiting: 500 ms of queueing at μ = 10/s, the objective is breached
      await halfWindow(10, 5)
      loop.stop()
      return stage.scaled
    }
    // ⌈(200 + 5 / 10 s) / 10⌉ = 21 workers wanted, 16 at most
    expect(await run(100)).toEqual([15])
    // without an objective the window is 100 ms: 50 ms in, nothing is measured yet
    expect(await run(undefined)).toEqual([])
  })

  it('after a tick\'s scale-up too, the window spanning the action is not acted on alone, breached or not', async () => {
    vi.useFakeTimers()
    const stage = Object.assign(stubStage('objective'), { latencyObjectiveMs: 1000 })
    const { loop, window } = await steadyLoop(stage)
    // 50/s over the second, nothing queued (no reactive action): the tick at 4 s sizes it, ⌈50 / 10⌉ = 5
    for (let i = 0; i < 9; i++) await window(5, 0)
    stage.now = { ...stage.now, arrivals: stage.now.arrivals + 5 }
    await vi.advanceTimersByTimeAsync(100)
    expect(stage.scaled).toEqual([4])
    // the held-back source released by the action: 300/s for a window, 40 waiting (4 s at μ = 10/s)
    await window(30, 40)
    await window(1, 41)
    loop.stop()
    expect(stage.scaled).toEqual([4])
  })
})

describe('measureMu: the rate of one worker', () => {
  it('a reading from mostly idle workers (their round trips counted as busy) never lowers μ', () => {
    // 13 workers over 1 s, busy 5.5 s in all for 50 items: 9/s looks slow, but they idled 58 % of the time
    expect(measureMu(45, 50, 5500, 13_000).mu).toBe(45)
    // the same reading may raise μ
    expect(measureMu(5, 50, 5500, 13_000).mu).toBeCloseTo(9.09, 2)
  })

  it('a reading from busy workers lowers μ: the stage really got slower', () => {
    // 2 workers busy 1.8 s of 2 for 72 items: 40/s
    expect(measureMu(45, 72, 1800, 2000)).toEqual({ mu: 42.5, slowed: false })
    // nothing processed: no reading
    expect(measureMu(45, 0, 0, 2000).mu).toBe(45)
  })

  it('a fall by a step is taken at once only when the tick before fell by a step too (one tick: a stalled machine)', () => {
    // busy workers reading 10/s against μ 36/s: halfway on the first tick, all the way on the second
    const first = measureMu(36, 20, 2000, 2000)
    expect(first).toEqual({ mu: 23, slowed: true })
    expect(measureMu(first.mu, 20, 2000, 2000, first.slowed)).toEqual({ mu: 10, slowed: true })
    // the stall passed: back to the rate it reads
    expect(measureMu(first.mu, 72, 2000, 2000, first.slowed)).toEqual({ mu: 36, slowed: false })
  })
})

describe('trendOf: a ramp, not noise and not a step', () => {
  it('a λ rising at every tick is a ramp, in items/s per second', () => {
    expect(trendOf([100, 110, 120], 1000)).toBe(10)
    expect(trendOf([100, 110, 120], 500)).toBe(20)
  })

  it('too few ticks, a fall, a flat tick, a rise under 2 % or a jump over half: no trend', () => {
    expect(trendOf([100, 110], 1000)).toBe(0)
    expect(trendOf([100, 120, 115], 1000)).toBe(0)
    expect(trendOf([100, 100, 120], 1000)).toBe(0)
    expect(trendOf([100, 100.5, 101], 1000)).toBe(0)
    expect(trendOf([50, 300, 310], 1000)).toBe(0)
  })

  it('a rise that dies away is a step landing mid-tick, not a ramp; a rise that keeps up (slowing or not) is', () => {
    // a 300/s burst starting partway into a tick, then a held-back source catching up
    expect(trendOf([250, 290, 300], 1000)).toBe(0)
    expect(trendOf([225, 280, 300], 1000)).toBe(0)
    // the top of a sine slows its rise gently; its start speeds it up
    expect(trendOf([340, 356, 368], 1000)).toBe(14)
    expect(trendOf([100, 104, 112], 1000)).toBe(6)
  })
})

describe('the loop sizes a ramp ahead of itself', () => {
  it('λ rising 10/s every second: sized for λ four ticks ahead (the warm-up, the next decision, the EWMA lag)', async () => {
    vi.useFakeTimers()
    const stage = stubStage('ramp')
    const loop = new EqualizerLoop([stage], { tickMs: 1000, utilization: 1, staffingBeta: 0, drainMs: 10_000, scaleDownAfterMs: 10_000 }, () => 100, () => {})
    loop.start()
    // one worker at μ 100/s under λ 40, 50, 60, 70 /s: enough for each λ as measured
    let arrivals = 0
    let processed = 0
    const scaledAt: number[] = []
    for (const rate of [40, 50, 60, 70]) {
      arrivals += rate
      processed += rate
      stage.now = { ...stage.now, arrivals, processed, busyMs: processed * 10 }
      await vi.advanceTimersByTimeAsync(1000)
      if (stage.scaled.length > scaledAt.length) scaledAt.push(rate)
    }
    loop.stop()
    // at the 70/s tick the EWMA reads 61/s rising 10/s per s: ~101/s four ticks on, which one worker at
    // 100/s cannot take (two ticks on, ~81/s, it could: the next step would come too late)
    expect(stage.scaled).toEqual([1])
    expect(scaledAt).toEqual([70])
  })
})

describe('reactWindowMs: how long a between-ticks window lasts', () => {
  it('100 ms, or half a tighter objective, never under 20 ms', () => {
    expect(reactWindowMs(undefined)).toBe(100)
    expect(reactWindowMs(1000)).toBe(100)
    expect(reactWindowMs(200)).toBe(100)
    expect(reactWindowMs(100)).toBe(50)
    expect(reactWindowMs(10)).toBe(20)
    expect(reactWindowMs(0)).toBe(100)
  })
})
