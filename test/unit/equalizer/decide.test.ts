import { describe, it, expect } from 'vitest'
import { decide, INITIAL_STATE } from '../../../src/equalizer/index.ts'
import type { EqualizerConfig, EqualizerInput, EqualizerState, Decision } from '../../../src/equalizer/index.ts'

const MU = 100
const TICK = 1000
const CONFIG: EqualizerConfig = { minWorkers: 1, maxWorkers: 32, utilization: 0.9, deadBand: 0.1, drainMs: 10_000, scaleDownAfterMs: 10_000, warmupTicks: 2 }

/** Simulates a stage whose workers each do MU items/s; decisions take effect one tick later. */
function simulate (rates: number[], startWorkers: number, extra: (tick: number) => Partial<EqualizerInput> = () => ({}), config = CONFIG): { decisions: Decision[], workers: number[] } {
  let workers = startWorkers
  let pending = 0
  let state: EqualizerState = INITIAL_STATE
  const decisions: Decision[] = []
  const history: number[] = []
  rates.forEach((lambda, tick) => {
    workers += pending
    pending = 0
    const d = decide({ workers, starting: 0, arrivalRate: lambda, processingRate: MU, throughput: Math.min(lambda, workers * MU), saturated: false, downstreamBlocked: false, queued: 0, capacityLimit: 100, nowMs: tick * TICK, ...extra(tick) }, config, state)
    state = d.state
    if (d.action !== 'none') { decisions.push(d); pending = d.delta }
    history.push(workers + pending)
  })
  return { decisions, workers: history }
}

const optimal = (lambda: number): number => Math.ceil(lambda / (MU * CONFIG.utilization))

describe('equalizer decision', () => {
  it('10x step up: the optimal N in <= 3 decisions, overshoot <= 1', () => {
    const rates = [...Array(5).fill(100), ...Array(20).fill(1000)]
    const { decisions, workers } = simulate(rates, optimal(100))
    expect(decisions.length).toBeLessThanOrEqual(3)
    expect(workers.at(-1)).toBe(optimal(1000))
    expect(Math.max(...workers) - optimal(1000)).toBeLessThanOrEqual(1)
  })

  it('10x step down: waits scaleDownAfterMs, then drains to the optimum in <= 3 decisions', () => {
    const rates = [...Array(3).fill(1000), ...Array(30).fill(100)]
    const { decisions, workers } = simulate(rates, optimal(1000))
    expect(decisions.length).toBeLessThanOrEqual(3)
    expect(decisions.every(d => d.action === 'kill')).toBe(true)
    // nothing is killed before low pressure has lasted 10 ticks
    expect(workers.slice(0, 3 + 10).every(w => w === optimal(1000))).toBe(true)
    expect(workers.at(-1)).toBe(optimal(100))
  })

  it('ramp: follows upward without ever killing', () => {
    const rates = Array.from({ length: 25 }, (_, i) => Math.min(1000, 100 + i * 45))
    const { decisions, workers } = simulate(rates, 2)
    expect(decisions.every(d => d.action === 'spawn')).toBe(true)
    expect(workers.at(-1)).toBeGreaterThanOrEqual(optimal(1000) - 1)
  })

  it('a slow downstream does not make this stage scale up', () => {
    const { decisions } = simulate(Array(15).fill(1000), 2, () => ({ downstreamBlocked: true, queued: 5000 }))
    expect(decisions).toEqual([])
  })

  it('noisy rates within the dead band: no flapping once converged', () => {
    // 20 workers: the ±10 % band is ±2 workers, and ±9 % noise on λ moves N* between 19 and 22
    const lambda = 20 * MU * CONFIG.utilization
    let seed = 7
    const random = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    const rates = Array.from({ length: 60 }, () => lambda * (1 + (random() - 0.5) * 0.18))
    const targets = rates.map(rate => optimal(rate))
    expect(optimal(lambda)).toBe(20)
    // the noise really leaves N = 20 (else this would pass without any band)
    expect(Math.min(...targets)).toBeLessThan(20)
    expect(Math.max(...targets)).toBeGreaterThan(21)
    expect(simulate(rates, 20).decisions).toEqual([])
    // the same noise without a band flaps
    expect(simulate(rates, 20, () => ({}), { ...CONFIG, deadBand: 0 }).decisions.length).toBeGreaterThan(0)
  })

  it('a saturated source reads as high pressure, not an even rate', () => {
    const d = decide({ workers: 2, starting: 0, arrivalRate: 200, processingRate: MU, throughput: 200, saturated: true, downstreamBlocked: false, queued: 0, capacityLimit: 10, nowMs: 0 }, CONFIG, INITIAL_STATE)
    expect(d).toMatchObject({ pressure: 'high', action: 'spawn' })
    expect(d.delta).toBeGreaterThan(0)
  })

  it('the backlog term drains a queue within drainMs', () => {
    const d = decide({ workers: 2, starting: 0, arrivalRate: 100, processingRate: MU, throughput: 100, saturated: false, downstreamBlocked: false, queued: 4000, capacityLimit: 10, nowMs: 0 }, CONFIG, INITIAL_STATE)
    expect(d.target).toBe(optimal(100) + 4)
  })

  it('warm-up, clamps and the floor', () => {
    const base: EqualizerInput = { workers: 2, starting: 0, arrivalRate: 5000, processingRate: MU, throughput: 200, saturated: false, downstreamBlocked: false, queued: 0, capacityLimit: 3, nowMs: 0 }
    const first = decide(base, CONFIG, INITIAL_STATE)
    expect(first).toMatchObject({ target: 5, delta: 3, action: 'spawn' })
    expect(decide({ ...base, workers: 5, capacityLimit: 100 }, CONFIG, first.state)).toMatchObject({ action: 'none', reason: expect.stringMatching(/warm-up/) })
    expect(decide({ ...base, capacityLimit: 100 }, { ...CONFIG, maxWorkers: 8 }, INITIAL_STATE).target).toBe(8)
    expect(decide({ ...base, workers: 0, processingRate: undefined }, { ...CONFIG, minWorkers: 2 }, INITIAL_STATE)).toMatchObject({ delta: 2, action: 'spawn' })
  })

  it('a stage scaled to zero starts one worker when work arrives, and returns to zero when idle', () => {
    const idle: EqualizerInput = { workers: 0, starting: 0, arrivalRate: 0, processingRate: undefined, throughput: 0, saturated: false, downstreamBlocked: false, queued: 0, capacityLimit: 10, nowMs: 0 }
    const zero = { ...CONFIG, minWorkers: 0 }
    expect(decide(idle, zero, INITIAL_STATE).action).toBe('none')
    expect(decide({ ...idle, queued: 3 }, zero, INITIAL_STATE)).toMatchObject({ action: 'spawn', delta: 1 })
    let state = INITIAL_STATE
    const kills: Decision[] = []
    for (let t = 0; t <= 15; t++) {
      const d = decide({ ...idle, workers: 1, processingRate: MU, nowMs: t * TICK }, zero, state)
      state = d.state
      if (d.action !== 'none') kills.push(d)
    }
    expect(kills).toEqual([expect.objectContaining({ action: 'kill', delta: -1 })])
  })
})
