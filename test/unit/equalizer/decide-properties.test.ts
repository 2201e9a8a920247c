import { describe, it, expect } from 'vitest'
import { decide, INITIAL_STATE } from '../../../src/equalizer/index.ts'
import type { EqualizerConfig, EqualizerInput, EqualizerState } from '../../../src/equalizer/index.ts'

/** A small deterministic generator, so a failure names a case that runs again. */
function random (seed: number): { next: () => number, pick: <T>(xs: T[]) => T } {
  let s = seed
  const next = (): number => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 }
  return { next, pick: xs => xs[Math.floor(next() * xs.length)]! }
}

describe('equalizer decision: properties over many inputs', () => {
  it('one decision: a finite target, a whole delta, never a spawn past maxWorkers or a kill under minWorkers, never a kill between ticks', () => {
    const { next, pick } = random(12345)
    const broken: string[] = []
    for (let k = 0; k < 20_000; k++) {
      const minWorkers = pick([0, 0, 1, 2, 5])
      const maxWorkers = minWorkers + pick([0, 1, 3, 10, 64])
      const config: EqualizerConfig = { minWorkers, maxWorkers, utilization: pick([0.5, 0.9, 1]), deadBand: 0.1, drainMs: pick([1, 1000, 10_000]), scaleDownAfterMs: pick([0, 1000, 10_000]), warmupTicks: pick([0, 1, 2]), latencyObjectiveMs: pick([undefined, 1, 100]), defaultObjectiveMs: pick([undefined, 40]), spareWorkers: pick([0, 0, 2]), lookaheadMs: pick([0, 4000]) }
      const input: EqualizerInput = { workers: Math.floor(next() * (maxWorkers + 3)), starting: pick([0, 0, 1, 3]), arrivalRate: pick([0, 0.001, 1, 100, 1e6, next() * 1000]), arrivalTrend: pick([undefined, 0, -5, 50]), processingRate: pick([undefined, 0, 1e-9, 0.5, 100, next() * 100]), throughput: pick([0, 50, 1e5]), saturated: next() < 0.3, downstreamBlocked: next() < 0.2, queued: pick([0, 1, 1000]), waiting: pick([undefined, 0, 5000]), reactive: next() < 0.3, capacityLimit: pick([0, 1, 2, 100, -1]), usefulLimit: pick([undefined, { workers: 1, untilMs: 1e12 }, { workers: 3, untilMs: 0 }]), nowMs: next() * 1e6 }
      const state: EqualizerState = pick([INITIAL_STATE, { ticksSinceAction: 0 }, { ticksSinceAction: 5, lowSinceMs: 0 }, { ticksSinceAction: 1, lastScaledUp: true }])
      const d = decide(input, config, state)
      const current = input.workers + input.starting
      const after = current + d.delta
      if (!Number.isFinite(d.target) || !Number.isInteger(d.delta)) broken.push(`not a count: ${JSON.stringify({ input, config, d })}`)
      else if (d.delta > 0 && after > Math.max(maxWorkers, current)) broken.push(`past maxWorkers: ${JSON.stringify({ input, config, d })}`)
      else if (d.delta < 0 && after < Math.min(minWorkers, current)) broken.push(`under minWorkers: ${JSON.stringify({ input, config, d })}`)
      else if (d.delta < 0 && input.reactive === true) broken.push(`killed between ticks: ${JSON.stringify({ input, config, d })}`)
    }
    expect(broken.slice(0, 3)).toEqual([])
  })

  it('a steady input, from any start: ends within [minWorkers, maxWorkers], changing direction at most once', () => {
    const broken: string[] = []
    for (const mu of [1, 7, 100]) {
      for (const load of [0, 0.3, 0.9, 4.5, 9.5, 10, 17.3, 40]) {
        for (const [minWorkers, maxWorkers] of [[0, 1], [1, 4], [1, 11], [3, 12], [0, 64]] as const) {
          for (const start of [minWorkers, Math.max(0, minWorkers - 1), maxWorkers + 1, maxWorkers + 3]) {
            for (const backlog of [false, true]) {
              const config: EqualizerConfig = { minWorkers, maxWorkers, utilization: 0.9, deadBand: 0.1, drainMs: 10_000, scaleDownAfterMs: 3000, warmupTicks: 2, defaultObjectiveMs: 4000 / mu, lookaheadMs: 4000 }
              const lambda = load * mu
              let workers = start
              let pending = 0
              let queued = 0
              let state: EqualizerState = { ticksSinceAction: 0 }
              const deltas: number[] = []
              for (let tick = 0; tick < 200; tick++) {
                workers += pending
                pending = 0
                const served = Math.min(queued + lambda, workers * mu)
                queued = backlog ? Math.max(0, queued + lambda - served) : 0
                const d = decide({ workers, starting: 0, arrivalRate: lambda, processingRate: mu, throughput: served, saturated: false, downstreamBlocked: false, queued: Math.round(queued), capacityLimit: 100, nowMs: tick * 1000 }, config, state)
                state = d.state
                if (d.action !== 'none') { deltas.push(d.delta); pending = d.delta }
              }
              workers += pending
              const turns = deltas.filter((delta, i) => i > 0 && Math.sign(delta) !== Math.sign(deltas[i - 1]!)).length
              const at = JSON.stringify({ mu, lambda, minWorkers, maxWorkers, start, backlog, workers, deltas })
              if (workers < minWorkers || workers > maxWorkers) broken.push(`out of bounds: ${at}`)
              if (turns > 1) broken.push(`oscillates: ${at}`)
            }
          }
        }
      }
    }
    expect(broken.slice(0, 3)).toEqual([])
  })
})
