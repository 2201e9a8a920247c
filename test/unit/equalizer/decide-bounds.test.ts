import { describe, it, expect } from 'vitest'
import { decide, INITIAL_STATE } from '../../../src/equalizer/index.ts'
import type { EqualizerConfig, EqualizerInput, EqualizerState } from '../../../src/equalizer/index.ts'

const CONFIG: EqualizerConfig = { minWorkers: 1, maxWorkers: 11, utilization: 0.9, deadBand: 0.1, drainMs: 10_000, scaleDownAfterMs: 10_000, warmupTicks: 2 }

/** Ticks a stage held at `workers` (no action takes effect), returns the actions asked for. */
function run (workers: number, lambda: number, config: EqualizerConfig, extra: Partial<EqualizerInput> = {}, ticks = 30): Array<{ action: string, delta: number }> {
  let state: EqualizerState = INITIAL_STATE
  const actions: Array<{ action: string, delta: number }> = []
  for (let tick = 0; tick < ticks; tick++) {
    const d = decide({ workers, starting: 0, arrivalRate: lambda, processingRate: 100, throughput: Math.min(lambda, workers * 100), saturated: false, downstreamBlocked: false, queued: 0, capacityLimit: 100, nowMs: tick * 1000, ...extra }, config, state)
    state = d.state
    if (d.action !== 'none') { actions.push({ action: d.action, delta: d.delta }); break }
  }
  return actions
}

describe('equalizer decision at its bounds', () => {
  it('an overloaded stage one worker under maxWorkers grows to it, though the dead band covers one worker', () => {
    // 10 workers, maxWorkers 11, λ needs 34: the need is clamped to 11, within 10's ±1 band
    expect(run(10, 3000, CONFIG)).toEqual([{ action: 'spawn', delta: 1 }])
  })

  it('an overloaded stage grows into the last slot the grid has, though the dead band covers it', () => {
    expect(run(10, 3000, { ...CONFIG, maxWorkers: 64 }, { capacityLimit: 1 })).toEqual([{ action: 'spawn', delta: 1 }])
  })

  it('a stage above maxWorkers (bounds lowered at run time) drains to it, though the dead band covers the surplus', () => {
    // a task pool reconfigured from 10 to maxWorkers 9 while busy at 10: λ needs all 10
    expect(run(10, 900, { ...CONFIG, maxWorkers: 9 })).toEqual([{ action: 'kill', delta: -1 }])
  })

  it('within the dead band and within the bounds: still no action (noise does not flap)', () => {
    // 10 workers, need 11 (λ 950 / 90): inside the band, maxWorkers far away
    expect(run(10, 950, { ...CONFIG, maxWorkers: 64 })).toEqual([])
    // need 9 (λ 800 / 90): inside the band
    expect(run(10, 800, { ...CONFIG, maxWorkers: 64 })).toEqual([])
  })
})
