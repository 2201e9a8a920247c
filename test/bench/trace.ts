/**
 * `npm run bench:trace`: the equalizer on traffic that is not a clean step,
 * against the policies it should beat. One agent process (32 slots: room for
 * two policies at once) and the pipelines owned by this process; one I/O-bound
 * stage (20 ms per item, concurrency 1). Two traces:
 *   bursty: 50 items/s with three 8 s bursts to 300/s at 20, 50 and 80 s, then a ramp 50 → 200/s over the last 20 s;
 *   daily:  a compressed daily cycle, a sine from 20 to 400 items/s and back over 120 s.
 * Each under six policies in the same run: the equalizer with defaults, the equalizer with
 * `latencyObjectiveMs: 100`, the same with `spareWorkers: 1` (what a warm spare buys, and costs), static
 * at the peak (⌈peak / (μ·0.9)⌉ workers), static at the mean (⌈mean / μ⌉), and a Kubernetes HPA-like
 * target-tracking baseline (trace-baseline.ts). μ is one worker's rate, calibrated alone first. Policies
 * run two at a time, side by side from the same instant (trace-rounds.ts): each goal's pair, the defaults
 * with the baseline and the objective with static at the peak, `--repeat=N` times (default 3, 1 with
 * `--quick`), their figures pooled over the rounds (trace-pool.ts); then the other two together once.
 * The agent keeps 8 worker hosts pre-started (`--prestart=N` changes it), shared by the policies side by side. A whole
 * full run also writes the frontier (worker-seconds against p99) to docs/bench-trace.svg. Per trace one JSON line on stdout
 * `{"trace","policies":[{"policy","workerSeconds","p50Ms","p95Ms","p99Ms","decisions","lost","runs"}]}` and a table.
 * Targets (issue 20), per trace: the equalizer with the objective at ≤ 0.75× static-at-peak's worker-seconds
 * and ≤ 3× its p99, 0 lost anywhere; the equalizer with defaults at ≤ 1× the baseline's worker-seconds and p99.
 * `--quick` compresses both traces 4× in time (30 s each) and the policies' waits before scaling down with
 * them (the equalizer's 5 s default → 1.25 s, the baseline's 15 s → 3.75 s; 1 s ticks stay); `--trace=NAME` and
 * `--policy=NAME[,NAME]` run a subset. Items are sent evenly spaced at the trace's rate; `--arrivals=poisson`
 * sends them at random (a Poisson process at that rate, seeded: every run and policy the same times), written to
 * bench-results/trace-poisson.json beside the evenly spaced run's trace.json. Evenly
 * spaced items of a fixed cost never queue while the workers' capacity exceeds the rate (D/D/c), so there every
 * policy with enough workers shares the machine's floor; random arrivals queue at any utilization, as real traffic does.
 */
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { Cluster, note, sleep, table } from './lib.ts'
import { calibrate } from './equalizer-calibrate.ts'
import { runTrace, schedule } from './trace-run.ts'
import { watchStalls } from './loop-stalls.ts'
import type { Policy, PolicyFigures, PolicyRun, Trace } from './trace-run.ts'
import { pooled } from './trace-pool.ts'
import { GOAL_PAIRS, rounds } from './trace-rounds.ts'
import { sharedSlowest } from './trace-shared.ts'
import { targetTracking } from './trace-baseline.ts'
import { writeFrontier } from './trace-plot.ts'
import { runBench } from './report.ts'
import type { Figure, Row, TargetSpec } from './report.ts'

const PLOT = fileURLToPath(new URL('../../docs/bench-trace.svg', import.meta.url))
const MODULE = fileURLToPath(new URL('./stages/sleep.mjs', import.meta.url))
const ITEM_MS = 20
// the agent keeps as many worker hosts pre-started as a burst adds workers; the two policies run side by
// side share them, the first to ask taking them first (rounds flip the order)
const PRESTART = '8'
// room for the two policies run side by side, each up to MAX_WORKERS
const AGENT = ['--agent', '--workers', '32', '--cpu', '32', '--memory', '16384']
const MAX_WORKERS = 16
const UTILIZATION = 0.9

function traces (quick: boolean, poisson: boolean): Trace[] {
  const q = quick ? 0.25 : 1
  const burst = (t: number): boolean => [20, 50, 80].some(s => t >= s * q && t < (s + 8) * q)
  return [{
    poisson,
    name: 'bursty',
    title: `50 items/s, three 8 s bursts to 300/s, a ramp to 200/s${poisson ? ', random arrivals' : ''}`,
    seconds: 120 * q,
    rate: t => burst(t) ? 300 : t >= 100 * q ? 50 + 150 * (t - 100 * q) / (20 * q) : 50
  }, {
    poisson,
    name: 'daily',
    title: `a daily cycle, sine 20 → 400 → 20 items/s${poisson ? ', random arrivals' : ''}`,
    seconds: 120 * q,
    rate: t => 20 + 380 * (1 - Math.cos(2 * Math.PI * t / (120 * q))) / 2
  }]
}

function policies (trace: Trace, mu: number, quick: boolean): Policy[] {
  // --quick compresses the scaling policies' waits with the traces (5 s → 1.25 s, 15 s → 3.75 s); ticks stay
  const scaleDownAfterMs = quick ? 1250 : undefined
  const stabilizationMs = quick ? 3750 : 15_000
  const times = schedule(trace)
  const peak = Math.max(...times.map(at => trace.rate(at / 1000)))
  const mean = times.length / trace.seconds
  const pinned = (n: number): Policy['stage'] => ({ minWorkers: n, maxWorkers: n })
  return [
    { name: 'equalizer', stage: { minWorkers: 1, maxWorkers: MAX_WORKERS }, equalize: true, scaleDownAfterMs },
    { name: 'equalizer+objective', stage: { minWorkers: 1, maxWorkers: MAX_WORKERS, latencyObjectiveMs: 100 }, equalize: true, scaleDownAfterMs },
    { name: 'equalizer+objective+spare', stage: { minWorkers: 1, maxWorkers: MAX_WORKERS, latencyObjectiveMs: 100, spareWorkers: 1 }, equalize: true, scaleDownAfterMs },
    { name: 'static-peak', stage: pinned(Math.ceil(peak / (mu * UTILIZATION))), equalize: false },
    { name: 'static-mean', stage: pinned(Math.ceil(mean / mu)), equalize: false },
    { name: 'target-tracking', stage: { minWorkers: 1, maxWorkers: MAX_WORKERS }, equalize: false, drive: targetTracking({ mu, stabilizationMs }) }
  ]
}

const REPEAT = 3
/** Each goal pair's figure: of the policy's slowest 1 %, the share also its yardstick's in the same round (trace-shared.ts). */
const SHARED_FIGURE: Record<string, { key: string, label: string }> = {
  equalizer: { key: 'defaultsSlowestSharedWithBaseline', label: 'of the defaults\' slowest 1 %, also the baseline\'s' },
  'equalizer+objective': { key: 'objectiveSlowestSharedWithPeak', label: 'of the objective\'s slowest 1 %, also static at the peak\'s' }
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null || b == null || b === 0 ? null : Math.round(a / b * 100) / 100

/** Figures, targets and README rows for one trace's policies. */
function describe (trace: Trace, results: PolicyFigures[], figures: Record<string, Figure>, targets: TargetSpec[], rows: Row[]): void {
  const of = (policy: string): PolicyFigures | undefined => results.find(r => r.policy === policy)
  for (const r of results) {
    const id = (k: string): string => `${trace.name}.${r.policy}.${k}`
    figures[id('workerSeconds')] = { value: r.workerSeconds, unit: 's', label: 'worker-seconds' }
    figures[id('p50Ms')] = { value: r.p50Ms, unit: 'ms', label: 'p50' }
    figures[id('p95Ms')] = { value: r.p95Ms, unit: 'ms', label: 'p95' }
    figures[id('p99Ms')] = { value: r.p99Ms, unit: 'ms', label: 'p99' }
    figures[id('decisions')] = { value: r.decisions, unit: '', label: 'decisions' }
    figures[id('maxWorkers')] = { value: r.maxWorkers, unit: '', label: 'most workers' }
    figures[id('lost')] = { value: r.lost, unit: '', label: 'lost' }
    figures[id('runs')] = { value: r.runs, unit: '', label: 'runs pooled' }
    targets.push({ figure: id('lost'), comparator: '<=', bound: 0 })
    rows.push({ what: `bench:trace ${trace.name} (${trace.title}), ${r.policy}`, figures: ['workerSeconds', 'p50Ms', 'p95Ms', 'p99Ms', 'decisions', 'maxWorkers', 'lost'].map(id), note: `${r.sent} items${r.runs > 1 ? ` over ${r.runs} runs` : ''}` })
  }
  const ratios: string[] = []
  const add = (key: string, label: string, value: number | null, bound: number): void => {
    figures[`${trace.name}.${key}`] = { value, unit: '×', label }
    targets.push({ figure: `${trace.name}.${key}`, comparator: '<=', bound })
    ratios.push(`${trace.name}.${key}`)
  }
  const objective = of('equalizer+objective')
  const peak = of('static-peak')
  const defaults = of('equalizer')
  const baseline = of('target-tracking')
  if (objective != null && peak != null) {
    add('objectiveWorkerSecondsVsPeak', 'objective: worker-seconds vs static at peak', ratio(objective.workerSeconds, peak.workerSeconds), 0.75)
    add('objectiveP99VsPeak', 'objective: p99 vs static at peak', ratio(objective.p99Ms, peak.p99Ms), 3)
  }
  if (defaults != null && baseline != null) {
    add('defaultsWorkerSecondsVsBaseline', 'defaults: worker-seconds vs target tracking', ratio(defaults.workerSeconds, baseline.workerSeconds), 1)
    add('defaultsP99VsBaseline', 'defaults: p99 vs target tracking', ratio(defaults.p99Ms, baseline.p99Ms), 1)
  }
  if (ratios.length > 0) rows.push({ what: `bench:trace ${trace.name}: the goals, as ratios in the same run`, figures: ratios })
}

// random arrivals are their own result (bench-results/trace-poisson.json), beside the evenly spaced run's
const argv = process.argv.slice(2)
const poissonRun = argv.includes('--arrivals=poisson') || argv.some((a, i) => a === '--arrivals' && argv[i + 1] === 'poisson')
await runBench(poissonRun ? 'trace-poisson' : 'trace', ['--trace', '--policy', '--prestart', '--repeat', '--arrivals'], async (args, defer) => {
  const repeat = Math.max(1, Math.round(args.number('--repeat', args.quick ? 1 : REPEAT)))
  const onlyTrace = args.text('--trace')
  const onlyPolicy = args.text('--policy')
  const wanted = onlyPolicy?.split(',').map(name => name.trim()).filter(name => name !== '')
  const arrivals = args.text('--arrivals') ?? 'even'
  if (arrivals !== 'even' && arrivals !== 'poisson') throw new Error(`--arrivals: "${arrivals}" is neither even nor poisson`)
  const list = traces(args.quick, arrivals === 'poisson').filter(t => onlyTrace == null || t.name === onlyTrace)
  if (list.length === 0) throw new Error(`--trace: no trace "${onlyTrace}" (bursty, daily)`)
  const cluster = new Cluster()
  defer(async () => { await cluster.close() })
  process.on('exit', () => { cluster.killAllSync() })
  const port = await cluster.freePort()
  await cluster.start(port, [], 30_000, [...AGENT, '--prestart-workers', args.text('--prestart') ?? PRESTART])
  const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, peers: [`127.0.0.1:${port}`], logger: pino({ level: 'silent' }) })
  defer(async () => { await node.stop() })
  const deadline = Date.now() + 30_000
  while (!node.members().some(m => m.role === 'agent' && m.state === 'alive')) {
    if (Date.now() > deadline) throw new Error('the owner did not see the agent within 30 s')
    await sleep(100)
  }
  const mu = await calibrate(node, MODULE, { ms: ITEM_MS }, args.quick ? 2 : 4)
  note(`calibrated: one worker alone does ${mu.toFixed(1)} items/s of ${ITEM_MS} ms`)
  const figures: Record<string, Figure> = {}
  const targets: TargetSpec[] = []
  const rows: Row[] = []
  const details: unknown[] = []
  const plotted: Array<{ name: string, results: PolicyFigures[] }> = []
  for (const trace of list) {
    const all = policies(trace, mu, args.quick)
    const unknown = wanted?.filter(name => !all.some(p => p.name === name)) ?? []
    if (unknown.length > 0) throw new Error(`--policy: no policy ${unknown.map(n => `"${n}"`).join(', ')} (${all.map(p => p.name).join(', ')})`)
    const chosen = all.filter(p => wanted == null || wanted.includes(p.name))
    if (chosen.length === 0) throw new Error(`--policy: no policy named (${all.map(p => p.name).join(', ')})`)
    const runs = new Map<string, PolicyRun[]>()
    const shared = new Map<string, { shared: number, of: number }>()
    for (const together of rounds(chosen, repeat)) {
      // the last run's workers must be gone (and gossiped gone) first, or this one is placed short
      const idleBy = Date.now() + 30_000
      while (node.members().some(m => m.role === 'agent' && m.state === 'alive' && m.load.workers > 0)) {
        if (Date.now() > idleBy) throw new Error('the agent still reports workers 30 s after the last run ended')
        await sleep(100)
      }
      const round = (runs.get(together[0]!.name)?.length ?? 0) + 1
      note(`${trace.name} under ${together.map(p => `${p.name} (${JSON.stringify(p.stage)})`).join(' and, side by side, ')}, ${trace.seconds} s${round > 1 ? `, run ${round}` : ''}`)
      const t0 = performance.now() + 200
      // the runs side by side share this process's event loop: one watch for the round
      const stalls = watchStalls(t0)
      // both run to their end even when one fails, so no pipeline outlives its round
      const settled = await Promise.allSettled(together.map(async policy => await runTrace(node, trace, policy, MODULE, ITEM_MS, t0)))
      note(`  this process's event-loop stalls: ${stalls.stop()}`)
      const failed = settled.find(r => r.status === 'rejected')
      if (failed != null) throw failed.reason
      const done = settled.flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
      for (const run of done) {
        note(`  ${JSON.stringify(run.figures)}`)
        runs.set(run.figures.policy, [...runs.get(run.figures.policy) ?? [], run])
      }
      for (const [policy, yardstick] of GOAL_PAIRS) {
        const mine = done.find(r => r.figures.policy === policy)
        const theirs = done.find(r => r.figures.policy === yardstick)
        if (mine == null || theirs == null) continue
        const count = sharedSlowest(mine.byItem, theirs.byItem)
        const sum = shared.get(policy) ?? { shared: 0, of: 0 }
        shared.set(policy, { shared: sum.shared + count.shared, of: sum.of + count.of })
        note(`  of ${policy}'s slowest 1 % (${count.of} items), ${count.shared} were also among ${yardstick}'s`)
      }
    }
    const results = chosen.map(p => pooled(runs.get(p.name) ?? []))
    const perRun = Object.fromEntries([...runs].filter(([, r]) => r.length > 1).map(([name, r]) => [name, r.map(x => ({ workerSeconds: x.figures.workerSeconds, p99Ms: x.figures.p99Ms }))]))
    if (Object.keys(perRun).length > 0) note(`  ${trace.name}, each run of the repeated policies: ${JSON.stringify(perRun)}`)
    const line = { trace: trace.name, policies: results.map(({ policy, workerSeconds, p50Ms, p95Ms, p99Ms, decisions, lost, runs }) => ({ policy, workerSeconds, p50Ms, p95Ms, p99Ms, decisions, lost, runs })) }
    process.stdout.write(JSON.stringify(line) + '\n')
    process.stdout.write(table(['policy', 'runs', 'worker-s', 'p50 ms', 'p95 ms', 'p99 ms', 'decisions', 'most workers', 'lost'],
      results.map(r => [r.policy, String(r.runs), String(r.workerSeconds), String(r.p50Ms), String(r.p95Ms), String(r.p99Ms), r.decisions == null ? '—' : String(r.decisions), String(r.maxWorkers), String(r.lost)])))
    describe(trace, results, figures, targets, rows)
    const sharedIds: string[] = []
    for (const [policy, count] of shared) {
      const figure = SHARED_FIGURE[policy]
      if (figure == null || count.of === 0) continue
      figures[`${trace.name}.${figure.key}`] = { value: Math.round(100 * count.shared / count.of), unit: '%', label: figure.label }
      sharedIds.push(`${trace.name}.${figure.key}`)
    }
    if (sharedIds.length > 0) rows.push({ what: `bench:trace ${trace.name}: the same items slow side by side`, figures: sharedIds, note: 'by chance about 1 %' })
    details.push({ ...line, seconds: trace.seconds, full: results, perRun, sharedSlowest: Object.fromEntries(shared) })
    plotted.push({ name: trace.name, results })
  }
  // the README's plot: only from a whole run, every trace and policy at full length
  if (!args.quick && onlyTrace == null && onlyPolicy == null && arrivals === 'even') writeFrontier(PLOT, plotted)
  return { figures, targets, rows, script: 'trace', details: { mu, itemMs: ITEM_MS, arrivals, traces: details } }
})
