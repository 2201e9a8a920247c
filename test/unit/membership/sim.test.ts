import { describe, it, expect } from 'vitest'
import { simulate } from '../../sim/membership/run.ts'
import type { Scenario } from '../../sim/membership/run.ts'

/** `npm run sim:membership` at a size a unit test can afford: the same code, the same scenario. */
const scenario = (nodes: number): Scenario => ({ nodes, seconds: 90, loss: 0.01, seed: 7, crashEveryS: 20, pauseEveryS: 10, pauseMs: 2000, changeEveryS: 15, partitionFraction: 0.1, partitionS: 8 })

const p99 = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.ceil(0.99 * values.length) - 1]!

describe('membership simulated (real MembershipCore, simulated network and clock)', () => {
  it('60 nodes with 1 % loss and 2 s pauses: crashes are seen by everyone, no false failure, changes spread', () => {
    const r = simulate(scenario(60))
    expect(r.falsePositives).toBe(0)
    // every crash reached (at least 99.9 % of) the live nodes; generous bounds: timings belong to the simulation's report
    expect(r.detectionAll.length).toBeGreaterThanOrEqual(3)
    expect(p99(r.detection)).toBeLessThan(8000)
    expect(r.spreadMissed).toBe(0)
    expect(p99(r.spread)).toBeLessThan(5000)
    expect(r.partition?.detectedMs).not.toBeNull()
    expect(r.partition?.mergedMs).not.toBeNull()
  })

  it('per-node traffic does not grow with the grid: 160 nodes cost about what 40 do', () => {
    const small = simulate({ ...scenario(40), partitionFraction: 0 })
    const large = simulate({ ...scenario(160), partitionFraction: 0 })
    expect(large.messagesPerNodePerS).toBeLessThan(2 * small.messagesPerNodePerS)
    expect(large.messagesPerNodePerS).toBeGreaterThan(0)
  })
})
