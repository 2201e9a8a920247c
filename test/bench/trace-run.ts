/**
 * One bench:trace run: a source paced by a rate function of time (items/s),
 * one I/O-bound stage (20 ms per item) under one sizing policy, and what it
 * cost and gave: worker-seconds (running workers, sampled every 100 ms),
 * item latency from its scheduled send time to the sink (so waiting in a
 * held-back source counts), decisions, items lost.
 */
import type { GridNode } from '../../src/node.ts'
import type { PipelineRun } from '../../src/pipeline/run.ts'
import type { StageSpec } from '../../src/pipeline/types.ts'
import { note, percentile, round, sleep } from './lib.ts'

export interface Trace {
  name: string
  title: string
  seconds: number
  /** Items/s offered at `t` seconds from the start. */
  rate: (t: number) => number
  /** Random (Poisson, seeded: every run the same) arrivals instead of evenly spaced ones. */
  poisson?: boolean
}

export interface Policy {
  name: string
  /** The stage as this policy runs it (workers bounds, objective). */
  stage: Partial<StageSpec>
  equalize: boolean
  /** The equalizer's wait before scaling down (default: the pipeline default). */
  scaleDownAfterMs?: number
  /** An outside scaler for `equalize: false` runs: started with the run, stopped when it ends; returns its decisions. */
  drive?: (run: PipelineRun, stage: string) => { stop: () => number }
}

export interface PolicyFigures {
  policy: string
  workerSeconds: number
  p50Ms: number | null
  p95Ms: number | null
  p99Ms: number | null
  /** Scaling actions; null for a static policy. */
  decisions: number | null
  lost: number
  sent: number
  maxWorkers: number
  /** How many runs these figures pool (trace-pool.ts); 1 for a single run. */
  runs: number
}

/** One run's figures and its items' latencies (ms), for pooling repeated runs. */
export interface PolicyRun {
  figures: PolicyFigures
  latencies: number[]
  /** Each item's latency by its place in the schedule (NaN: lost), to compare runs side by side item by item. */
  byItem: Float64Array
}

interface Item { id: number, ms: number, at: number }

const SAMPLE_MS = 100

/** Uniform numbers in [0, 1), the same sequence for the same seed (mulberry32). */
function seededRandom (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** The send times of a trace: each next item 1/rate(t) after the last (on average, with random arrivals: an exponential gap). */
export function schedule (trace: Trace): number[] {
  const times: number[] = []
  const random = seededRandom(0x9e3779b9)
  for (let t = 0; t < trace.seconds;) {
    times.push(t * 1000)
    const gap = 1 / Math.max(0.1, trace.rate(t))
    t += trace.poisson === true ? -Math.log(1 - random()) * gap : gap
  }
  return times
}

/**
 * Runs `trace` under `policy`, its first item due at `t0` (performance.now() time; default 200 ms from
 * now). Runs given the same `t0` go through the trace side by side, through the same machine stalls.
 */
export async function runTrace (node: GridNode, trace: Trace, policy: Policy, module: string, itemMs: number, t0 = performance.now() + 200): Promise<PolicyRun> {
  const times = schedule(trace)
  async function * source (): AsyncGenerator<Item> {
    for (const [id, at] of times.entries()) {
      await sleep(t0 + at - performance.now())
      yield { id, ms: itemMs, at: t0 + at }
    }
  }
  const seen = new Set<number>()
  const latencies: number[] = []
  const byItem = new Float64Array(times.length).fill(Number.NaN)
  const sentAt: number[] = []
  const stageName = 'io'
  const run = node.pipeline(`trace-${trace.name}-${policy.name}`, {
    source: source(),
    stages: [{ name: stageName, module, ...policy.stage }],
    sink: (item: Item) => {
      seen.add(item.id)
      const ms = performance.now() - item.at
      latencies.push(ms)
      if (Number.isNaN(byItem[item.id]!)) byItem[item.id] = ms
      sentAt.push(item.at - t0)
    },
    equalize: policy.equalize,
    scaleDownAfterMs: policy.scaleDownAfterMs
  })
  run.on('stage:scaled', e => { note(`  ${policy.name} t=${((performance.now() - t0) / 1000).toFixed(1)} s ${e.delta > 0 ? '+' : ''}${e.delta} -> ${e.workers}: ${e.reason}`) })
  run.on('stage:unplaceable', e => { note(`  ${policy.name} unplaceable: ${e.reason}`) })
  run.on('stage:held', e => { note(`  ${policy.name} held at ${e.workers} for ${e.holdMs} ms: capacity ${e.capacityBefore}/s before the last scale-up, ${e.capacityAfter}/s after`) })
  const driver = policy.drive?.(run, stageName)
  let workerMs = 0
  let maxWorkers = 0
  let lastWorkers = 0
  let last = performance.now()
  const sampler = setInterval(() => {
    const now = performance.now()
    const workers = run.stats().stages[0]!.workers
    workerMs += workers * (now - last)
    if (workers !== lastWorkers) note(`  ${policy.name} t=${((now - t0) / 1000).toFixed(1)} s ${workers} workers running`)
    lastWorkers = workers
    maxWorkers = Math.max(maxWorkers, workers)
    last = now
  }, SAMPLE_MS)
  try {
    const summary = await run.done
    note(`  ${policy.name}: the slowest 1 % were sent at: ${slowest(latencies, sentAt)}`)
    const decisions = driver != null ? driver.stop() : policy.equalize ? summary.stages[0]!.decisions : null
    const figures: PolicyFigures = {
      policy: policy.name,
      workerSeconds: round(workerMs / 1000, 1),
      ...latencyPercentiles(latencies),
      decisions,
      lost: times.length - seen.size - summary.failed,
      sent: times.length,
      maxWorkers,
      runs: 1
    }
    return { figures, latencies, byItem }
  } finally {
    clearInterval(sampler)
    driver?.stop()
  }
}

/** p50, p95 and p99 of item latencies, ms to one decimal (null with no item). */
export function latencyPercentiles (latencies: number[]): Pick<PolicyFigures, 'p50Ms' | 'p95Ms' | 'p99Ms'> {
  const at = (p: number): number | null => {
    const ms = percentile(latencies, p)
    return ms == null ? null : round(ms, 1)
  }
  return { p50Ms: at(50), p95Ms: at(95), p99Ms: at(99) }
}

/** Where the p99 comes from: the send times (s into the trace, 1 s buckets) of the slowest 1 % of items. */
function slowest (latencies: number[], sentAt: number[]): string {
  const order = latencies.map((_, i) => i).sort((a, b) => latencies[b]! - latencies[a]!)
  const buckets = new Map<number, number>()
  for (const i of order.slice(0, Math.ceil(order.length / 100))) {
    const s = Math.floor(sentAt[i]! / 1000)
    buckets.set(s, (buckets.get(s) ?? 0) + 1)
  }
  return [...buckets].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s} s ×${n}`).join(', ')
}
