/**
 * One bench:equalizer scenario: a paced source (phases of items/s), a
 * pipeline on the grid, a 100 ms sampler of workers and rates, and the
 * figures per input step: decisions, when the optimum number of workers was
 * up, overshoot against the optimum, items lost and duplicated, item latency.
 * The optimum is what the equalizer's sizing rule asks for, ⌈max(a / 0.9, a + β√a)⌉
 * for a = λ / μ (src/equalizer/staffing.ts), with μ from an independent calibration
 * (the stage alone on one worker, see equalizer-calibrate.ts), not from the rates
 * the equalizer itself decides on.
 */
import type { GridNode } from '../../src/node.ts'
import type { StageSpec } from '../../src/pipeline/types.ts'
import { workersFor } from '../../src/equalizer/staffing.ts'
import { percentile, sleep } from './lib.ts'

/** `name`: what changes when this phase begins, for the report (default: the rate step, "4→40/s"). */
export interface Phase { rate: number, seconds: number, name?: string }

export interface Item { id: number, sent: number, [key: string]: unknown }

export interface ScenarioInit {
  name: string
  /** What the README row says it is. */
  title: string
  stages: StageSpec[]
  phases: Phase[]
  /** The item for id `id` in phase `phase`. */
  item: (id: number, phase: number) => Record<string, unknown>
  scaleDownAfterMs?: number
  /** Called once, `atMs` after the start, with the pids seen in results so far, the most recently seen first. */
  fault?: { atMs: number, run: (pids: number[]) => void }
}

/** Calibrated μ (items/s of one worker alone) per stage name, per phase. */
export type Calibration = Record<string, number[]>

interface Sample { t: number, stages: Array<{ name: string, workers: number, processingRate: number }> }
interface Scaled { t: number, stage: string, workers: number, delta: number, reason: string }

export interface PhaseFigures {
  stage: string
  phase: number
  rate: number
  decisions: number
  /** From the phase's start until the optimum number of workers was up (reached from below, or drained to from above); null: never. */
  convergedMs: number | null
  /** One worker's rate measured alone (the calibration). */
  mu: number
  /** The per-worker rate the pipeline reported in the phase (median of samples): what the equalizer decided on. */
  muSeen: number
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
  /** After the fault: until as many workers were up again as before it; null when there was no fault or they never were. */
  recoveredMs: number | null
  phases: PhaseFigures[]
  scaled: Scaled[]
  /** `stage:held` events: the workers last added did not raise the stage's capacity. */
  held: Array<{ t: number, stage: string, workers: number, capacityBefore: number, capacityAfter: number }>
}

const UTILIZATION = 0.9

export async function runScenario (node: GridNode, init: ScenarioInit, calibration: Calibration): Promise<ScenarioResult> {
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
  const held: ScenarioResult['held'] = []
  run.on('stage:held', e => { held.push({ t: performance.now() - t0, stage: e.stage, workers: e.workers, capacityBefore: e.capacityBefore, capacityAfter: e.capacityAfter }) })
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
      recoveredMs: init.fault == null || workersLost === 0 ? null : recovered(init.stages[0]!.name, init.fault.atMs, samples),
      phases: init.stages.flatMap(stage => init.phases.map((phase, p) => figures(stage.name, p, phase.rate, calibration[stage.name]![p]!, boundaries[p]!, boundaries[p + 1] ?? Infinity, samples, scaled))),
      scaled,
      held
    }
  } finally {
    clearInterval(sampler)
    clearTimeout(fault)
  }
}

const workersOf = (sample: Sample, stage: string): number => sample.stages.find(x => x.name === stage)!.workers

function figures (stage: string, phase: number, rate: number, mu: number, from: number, to: number, samples: Sample[], scaled: Scaled[]): PhaseFigures {
  const inPhase = samples.filter(s => s.t >= from && s.t < to)
  const decisions = scaled.filter(e => e.stage === stage && e.t >= from && e.t < to && !e.reason.includes('respawn'))
  const rates = inPhase.map(s => s.stages.find(x => x.name === stage)!.processingRate).filter(r => r > 0)
  const optimal = Math.max(1, workersFor(rate / mu, UTILIZATION))
  // a step down starts above the optimum by definition: count overshoot from the first decision on
  const firstDecision = decisions[0]?.t ?? from
  const maxWorkers = Math.max(0, ...samples.filter(s => s.t >= firstDecision && s.t < to).map(s => workersOf(s, stage)))
  const startWorkers = inPhase[0] == null ? 0 : workersOf(inPhase[0], stage)
  const reached = inPhase.find(s => startWorkers <= optimal ? workersOf(s, stage) >= optimal : workersOf(s, stage) <= optimal)
  return {
    stage,
    phase,
    rate,
    decisions: decisions.length,
    convergedMs: reached == null ? null : Math.round(reached.t - from),
    mu: Math.round(mu * 10) / 10,
    muSeen: Math.round((percentile(rates, 50) ?? 0) * 10) / 10,
    optimal,
    finalWorkers: inPhase.at(-1) == null ? 0 : workersOf(inPhase.at(-1)!, stage),
    maxWorkers,
    overshoot: maxWorkers - optimal
  }
}

/**
 * Ms from `atMs` until `stage` had as many workers as just before it, after first having fewer. A
 * replacement so quick that no sample saw fewer counts as the first sample after the kill (an upper bound).
 */
function recovered (stage: string, atMs: number, samples: Sample[]): number | null {
  const before = samples.filter(s => s.t < atMs).at(-1)
  if (before == null) return null
  const target = workersOf(before, stage)
  const after = samples.filter(s => s.t >= atMs)
  const dropped = after.findIndex(s => workersOf(s, stage) < target)
  if (dropped < 0) return after[0] == null || workersOf(after[0], stage) < target ? null : Math.round(after[0].t - atMs)
  const back = after.slice(dropped).find(s => workersOf(s, stage) >= target)
  return back == null ? null : Math.round(back.t - atMs)
}

function round (n: number | null): number | null {
  return n == null ? null : Math.round(n * 10) / 10
}
