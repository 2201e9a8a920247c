/**
 * Pools repeated runs of one policy on one trace (its rounds, trace-rounds.ts): latency percentiles over
 * every item of every run, so a round whose stalls were long weighs by its items, not by its own p99.
 */
import { round } from './lib.ts'
import { latencyPercentiles } from './trace-run.ts'
import type { PolicyFigures, PolicyRun } from './trace-run.ts'

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** Latency percentiles over every item of `runs`; worker-seconds and decisions averaged; items lost summed. */
export function pooled (runs: PolicyRun[]): PolicyFigures {
  const first = runs[0]
  if (first == null) throw new Error('pooled: no run')
  if (runs.length === 1) return first.figures
  const decisions = runs.map(r => r.figures.decisions)
  return {
    policy: first.figures.policy,
    workerSeconds: round(mean(runs.map(r => r.figures.workerSeconds)), 1),
    ...latencyPercentiles(runs.flatMap(r => r.latencies)),
    decisions: decisions.some(d => d == null) ? null : Math.round(mean(decisions as number[])),
    lost: runs.reduce((n, r) => n + r.figures.lost, 0),
    sent: runs.reduce((n, r) => n + r.figures.sent, 0),
    maxWorkers: Math.max(...runs.map(r => r.figures.maxWorkers)),
    runs: runs.length
  }
}
