/**
 * One bench:equalizer scenario: a paced source (phases of items/s), a
 * pipeline on the grid, a 100 ms sampler of workers and rates, and the
 * figures the issue asks for per input step: decisions, time to converge,
 * overshoot against the optimum, items lost and duplicated, item latency.
 */
import type { GridNode } from '../../src/node.ts'
import type { StageSpec } from '../../src/pipeline/types.ts'
import { percentile, sleep } from './lib.ts'

export interface Phase { rate: number, seconds: number }

export interface Item { id: number, sent: number, [key: string]: unknown }

export interface ScenarioInit {
  name: string
  stages: StageSpec[]
  phases: Phase[]
  /** The item for id `id` in phase `phase`. */
  item: (id: number, phase: number) => Record<string, unknown>
  scaleDownAfterMs?: number
  /** Called once, `atMs` after the start, with the pids seen in results so far, the most recently seen first. */
  fault?: { atMs: number, run: (pids: number[]) => void }
}

interface Sample { t: number, stages: Array<{ name: string, workers: number, processingRate: number }> }
interface Scaled { t: number, stage: string, workers: number, delta: number, reason: string }

export interface PhaseFigures {
  stage: string
  phase: number
  rate: number
  decisions: number
  convergeMs: number
  /** Per-worker busy-time rate measured in the phase (median of samples). */
  mu: number
  optimal: number
  finalWorkers: number
  maxWorkers: number
  overshoot: number
}

export interface ScenarioResult {
  name: string
  sent: number
  received: number
  lost: number
  duplicates: number
  failed: number
  retried: number
  workersLost: number
  latencyP50Ms: number | null
  latencyP99Ms: number | null
  phases: PhaseFigures[]
  scaled: Scaled[]
}

const UTILIZATION = 0.9

export async function runScenario (node: GridNode, init: ScenarioInit): Promise<ScenarioResult> {
  const t0 = performance.now()
  const boundaries: number[] = []
  let sent = 0
  // pid -> when a result last came from it, so a fault picks a worker that is still running
  const pids = new Map<number, number>()
  async function * source (): AsyncGenerator<Item> {
    let at = 0
    for (const [p, phase] of init.phases.entries()) {
      boundaries.push(performance.now() - t0)
      const start = at
      at += phase.seconds * 1000
      // paced by schedule, not by sleeping per item, so the offered rate is exact
      for (let k = 0; start + k * 1000 / phase.rate < at; k++) {
        await sleep(t0 + start + k * 1000 / phase.rate - performance.now())
        yield { id: sent, sent: performance.now(), ...init.item(sent++, p) }
      }
    }
  }
  const seen = new Map<number, number>()
  const latencies: number[] = []
  const run = node.pipeline(init.name, {
    source: source(),
    stages: init.stages,
    sink: (result: Item & { pid?: number }) => {
      seen.set(result.id, (seen.get(result.id) ?? 0) + 1)
      latencies.push(performance.now() - result.sent)
      if (typeof result.pid === 'number') pids.set(result.pid, performance.now())
    },
    scaleDownAfterMs: init.scaleDownAfterMs
  })
  const scaled: Scaled[] = []
  run.on('stage:scaled', e => { scaled.push({ t: performance.now() - t0, ...e }) })
  let workersLost = 0
  run.on('worker:lost', () => { workersLost++ })
  const samples: Sample[] = []
  const sampler = setInterval(() => {
    samples.push({ t: performance.now() - t0, stages: run.stats().stages.map(s => ({ name: s.name, workers: s.workers, processingRate: s.processingRate })) })
  }, 100)
  const fault = init.fault == null ? undefined : setTimeout(() => { init.fault!.run([...pids].sort((a, b) => b[1] - a[1]).map(([pid]) => pid)) }, init.fault.atMs)
  try {
    const summary = await run.done
    const received = seen.size
    return {
      name: init.name,
      sent,
      received,
      lost: sent - received - summary.failed,
      duplicates: summary.duplicatesSuppressed + [...seen.values()].reduce((n, c) => n + c - 1, 0),
      failed: summary.failed,
      retried: summary.retried,
      workersLost,
      latencyP50Ms: round(percentile(latencies, 50)),
      latencyP99Ms: round(percentile(latencies, 99)),
      phases: init.stages.flatMap(stage => init.phases.map((phase, p) => figures(stage.name, p, phase.rate, boundaries[p]!, boundaries[p + 1] ?? Infinity, samples, scaled))),
      scaled
    }
  } finally {
    clearInterval(sampler)
    clearTimeout(fault)
  }
}

function figures (stage: string, phase: number, rate: number, from: number, to: number, samples: Sample[], scaled: Scaled[]): PhaseFigures {
  const inPhase = samples.filter(s => s.t >= from && s.t < to).map(s => s.stages.find(x => x.name === stage)!)
  const decisions = scaled.filter(e => e.stage === stage && e.t >= from && e.t < to && !e.reason.includes('respawn'))
  const rates = inPhase.map(s => s.processingRate).filter(r => r > 0)
  const mu = percentile(rates, 50) ?? 0
  const optimal = mu > 0 ? Math.max(1, Math.ceil(rate / (mu * UTILIZATION))) : 1
  // a step down starts above the optimum by definition: count overshoot from the first decision on
  const firstDecision = decisions[0]?.t ?? from
  const maxWorkers = Math.max(0, ...samples.filter(s => s.t >= firstDecision && s.t < to).map(s => s.stages.find(x => x.name === stage)!.workers))
  return {
    stage,
    phase,
    rate,
    decisions: decisions.length,
    convergeMs: decisions.length === 0 ? 0 : Math.round(decisions.at(-1)!.t - from),
    mu: Math.round(mu * 10) / 10,
    optimal,
    finalWorkers: inPhase.at(-1)?.workers ?? 0,
    maxWorkers,
    overshoot: maxWorkers - optimal
  }
}

function round (n: number | null): number | null {
  return n == null ? null : Math.round(n * 10) / 10
}
