import { describe, expect, it } from 'vitest'
import { pooled } from '../bench/trace-pool.ts'
import type { PolicyRun } from '../bench/trace-run.ts'

function run (latencies: number[], workerSeconds: number, decisions: number | null, lost = 0): PolicyRun {
  return {
    latencies,
    byItem: Float64Array.from(latencies),
    figures: { policy: 'equalizer', workerSeconds, p50Ms: null, p95Ms: null, p99Ms: null, decisions, lost, sent: latencies.length + lost, maxWorkers: workerSeconds > 100 ? 9 : 7, runs: 1 }
  }
}

describe('bench:trace pooling repeated runs of a policy', () => {
  it('one run is its own figures', () => {
    const only = run([20, 21], 50, 3)
    expect(pooled([only])).toBe(only.figures)
  })

  it('percentiles over every item of the runs (not an average of each run\'s), worker-seconds and decisions averaged, lost and sent summed', () => {
    // one run caught a stall: 2 of its 100 items took 60 ms; the other run's slowest took 22 ms
    const calm = run(Array.from({ length: 100 }, (_, i) => 20 + (i % 3)), 90, 10)
    const stalled = run([...Array.from({ length: 98 }, () => 21), 60, 60], 110, 13, 1)
    const both = pooled([calm, stalled])
    expect(both).toMatchObject({ policy: 'equalizer', workerSeconds: 100, decisions: 12, lost: 1, sent: 201, maxWorkers: 9, runs: 2, p50Ms: 21 })
    // 200 items: the 99th percentile is the 198th smallest, the stalled run's 2 slow ones lie above it
    expect(both.p99Ms).toBe(22)
  })

  it('a static policy (no decisions) stays without decisions; no run at all is an error', () => {
    expect(pooled([run([20], 10, null), run([20], 10, null)]).decisions).toBeNull()
    expect(() => pooled([])).toThrow(/no run/)
  })
})
