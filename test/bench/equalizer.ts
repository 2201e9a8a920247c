/**
 * `npm run bench:equalizer`: the equalizer on a real grid (two agent
 * processes, the pipeline owned by this process), under
 *   1. the primes stage (CPU-bound) with a 10x input step up, then down: up to the rate of one primes
 *      worker alone, so two workers carry it (a fixed rate outgrew the machine: see PRIMES_STEP);
 *   2. an I/O-bound stage (20 ms per item) with a 10x step up, then down: wide enough to need ~10 workers
 *      (primes cannot show that on 2 cores);
 *   3. primes feeding a downstream that slows down (primes must not scale);
 *   4. SIGKILL of a primes worker mid-run.
 * First every stage is calibrated alone on one worker (equalizer-calibrate.ts): the optimum for rate λ is
 * ⌈max(a / 0.9, a + β√a)⌉ for a = λ / μ from that μ (the equalizer's own rule, src/equalizer/staffing.ts). Per step: decisions, when the optimum number of workers was up, overshoot,
 * items lost and duplicated, p50/p99 latency.
 * Targets, for every step after the first phase: <= 3 decisions, overshoot <= 1; 0 lost in every scenario;
 * 0 decisions for the upstream of the slowing stage.
 * `--quick` halves every phase (and waits 5 s, not 10, before scaling down); `--only=NAME` runs one scenario.
 */
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { STAFFING_BETA } from '../../src/equalizer/staffing.ts'
import { Cluster, note, sleep } from './lib.ts'
import { runScenario } from './equalizer-scenario.ts'
import type { Calibration, ScenarioInit, ScenarioResult } from './equalizer-scenario.ts'
import { calibrate } from './equalizer-calibrate.ts'
import { runBench } from './report.ts'
import type { Figure, Row, TargetSpec } from './report.ts'

const stage = (name: string): string => fileURLToPath(new URL(`./stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '16', '--cpu', '16', '--memory', '16384']
const NAMES = ['primes-step', 'io-step', 'downstream-slowdown', 'worker-sigkill']
const PRIMES_ITEM = { limit: 400_000 }
/**
 * The primes steps go up to μ, the rate of one primes worker alone (calibrated in this run), and down
 * to μ / 10: the optimum is then 2 workers (a = 1: ⌈1 + 0.5⌉), on any machine with 2 cores. They were
 * 4 → 40 items/s, written when a primes item took 25 ms here (μ ≈ 40/s: 40/s needed 2 workers). On a
 * slower day (52 ms an item alone, 68 ms each for two at once: about 29 items/s for the whole 2-core
 * machine) 40/s asked for more than any number of workers could do, and "the optimum" of 3 was no optimum.
 */
const PRIMES_STEP = { high: 1, low: 0.1 }

function scenarios (quick: boolean, onKill: (pid: number | undefined) => void, primesMu: number): ScenarioInit[] {
  const scale = (seconds: number): number => quick ? Math.max(3, Math.round(seconds / 2)) : seconds
  const scaleDownAfterMs = quick ? 5000 : 10_000
  const high = Math.max(4, Math.round(primesMu * PRIMES_STEP.high))
  const low = Math.max(1, Math.round(high * PRIMES_STEP.low / PRIMES_STEP.high))
  return [{
    name: 'primes-step',
    title: 'primes (CPU-bound), μ/10 → μ → μ/10 (μ: one worker alone)',
    stages: [{ name: 'primes', module: stage('primes.mjs'), minWorkers: 1, maxWorkers: 8 }],
    phases: [{ rate: low, seconds: scale(8) }, { rate: high, seconds: scale(15) }, { rate: low, seconds: scale(20) }],
    item: () => PRIMES_ITEM,
    scaleDownAfterMs
  }, {
    name: 'io-step',
    title: 'I/O-bound stage (20 ms wait per item), 40 → 400 → 40 items/s',
    stages: [{ name: 'io', module: stage('sleep.mjs'), minWorkers: 1, maxWorkers: 32 }],
    phases: [{ rate: 40, seconds: scale(8) }, { rate: 400, seconds: scale(15) }, { rate: 40, seconds: scale(20) }],
    item: () => ({ ms: 20 }),
    scaleDownAfterMs
  }, {
    // primes feeds a stage that slows from 5 ms to 50 ms per item: only the downstream may grow
    name: 'downstream-slowdown',
    title: 'primes feeding a stage that slows 5 → 50 ms/item, 20 items/s',
    stages: [
      { name: 'primes', module: stage('primes.mjs'), minWorkers: 1, maxWorkers: 8 },
      { name: 'downstream', module: stage('sleep-downstream.mjs'), minWorkers: 1, maxWorkers: 32 }
    ],
    phases: [{ rate: 20, seconds: scale(10) }, { rate: 20, seconds: scale(15), name: 'downstream 5→50 ms' }],
    item: (_id: number, phase: number) => ({ limit: 400_000, downMs: phase === 0 ? 5 : 50 }),
    scaleDownAfterMs
  }, {
    name: 'worker-sigkill',
    title: 'SIGKILL of a primes worker at μ items/s',
    stages: [{ name: 'primes', module: stage('primes.mjs'), minWorkers: 1, maxWorkers: 8 }],
    // settled first (the kill must hit a stage at its steady size), then a worker is SIGKILLed
    phases: [{ rate: high, seconds: scale(20) }, { rate: high, seconds: scale(12), name: 'the SIGKILL' }],
    item: () => PRIMES_ITEM,
    scaleDownAfterMs,
    fault: {
      atMs: scale(20) * 1000 + 500,
      run: (pids: number[]) => {
        onKill(pids[0])
        if (pids[0] != null) { note(`SIGKILL worker pid ${pids[0]}`); process.kill(pids[0], 'SIGKILL') }
      }
    }
  }]
}

/** μ per stage per phase, each (module, item) measured once, alone on one worker. */
async function calibrateAll (node: GridNode, list: ScenarioInit[], seconds: number, cache: Map<string, number>): Promise<Map<string, Calibration>> {
  const out = new Map<string, Calibration>()
  for (const s of list) {
    const calibration: Calibration = {}
    for (const st of s.stages) {
      calibration[st.name] = []
      for (let p = 0; p < s.phases.length; p++) {
        const item = s.item(0, p)
        const key = calibrationKey(st.module, item)
        if (!cache.has(key)) {
          cache.set(key, await calibrate(node, st.module, item, seconds))
          note(`calibrated ${st.name} ${JSON.stringify(item)} alone on one worker: ${cache.get(key)!.toFixed(1)} items/s`)
        }
        calibration[st.name]!.push(cache.get(key)!)
      }
    }
    out.set(s.name, calibration)
  }
  return out
}

const calibrationKey = (module: string, item: Record<string, unknown>): string => `${module}\n${JSON.stringify(item)}`

/** Figures, targets and a README row for one scenario's result. */
function describe (init: ScenarioInit, r: ScenarioResult, figures: Record<string, Figure>, targets: TargetSpec[], rows: Row[]): void {
  const ids: string[] = []
  const add = (id: string, figure: Figure, target?: TargetSpec['bound']): void => {
    figures[`${r.name}.${id}`] = figure
    ids.push(`${r.name}.${id}`)
    if (target != null) targets.push({ figure: `${r.name}.${id}`, comparator: '<=', bound: target })
  }
  const mus: string[] = []
  for (const p of r.phases) {
    if (!mus.some(m => m.startsWith(`${p.stage} `) && m.endsWith(` ${p.mu}/s`))) mus.push(`${p.stage} ${p.mu}/s`)
    // the first phase is the start, not a step: reported in the JSON only
    if (p.phase === 0) continue
    const upstreamOfSlowdown = r.name === 'downstream-slowdown' && p.stage === 'primes'
    const at = `${p.stage}, ${init.phases[p.phase]!.name ?? `${init.phases[p.phase - 1]!.rate}→${p.rate}/s`}`
    add(`${p.stage}.p${p.phase}.decisions`, { value: p.decisions, unit: '', label: `${at}: decisions` }, upstreamOfSlowdown ? 0 : 3)
    add(`${p.stage}.p${p.phase}.optimum`, { value: p.optimal, unit: '', label: 'optimum' })
    add(`${p.stage}.p${p.phase}.maxWorkers`, { value: p.maxWorkers, unit: '', label: 'most up' })
    add(`${p.stage}.p${p.phase}.overshoot`, { value: p.overshoot, unit: '', label: 'overshoot' }, upstreamOfSlowdown ? undefined : 1)
    if (!upstreamOfSlowdown) add(`${p.stage}.p${p.phase}.convergedMs`, { value: p.convergedMs, unit: 'ms', label: 'optimum up after' })
  }
  if (r.recoveredMs != null || init.fault != null) add('recoveredMs', { value: r.recoveredMs, unit: 'ms', label: 'workers back after the kill' })
  add('lost', { value: r.lost, unit: '', label: 'lost' }, 0)
  add('duplicates', { value: r.duplicates, unit: '', label: 'duplicated' })
  add('latencyP50Ms', { value: r.latencyP50Ms, unit: 'ms', label: 'latency p50' })
  add('latencyP99Ms', { value: r.latencyP99Ms, unit: 'ms', label: 'p99' })
  rows.push({ what: `equalizer, ${init.title}`, figures: ids, note: `${r.sent} items, ${r.retried} retried; μ of one worker alone: ${mus.join(', ')}` })
}

await runBench('equalizer', ['--only'], async (args, defer) => {
  const only = args.text('--only')
  if (only != null && !NAMES.includes(only)) throw new Error(`--only: no scenario "${only}" (${NAMES.join(', ')})`)
  const cluster = new Cluster()
  defer(async () => { await cluster.close() })
  process.on('exit', () => { cluster.killAllSync() })
  const [p1, p2] = [await cluster.freePort(), await cluster.freePort()]
  await cluster.start(p1, [], 30_000, AGENT)
  await cluster.start(p2, [`127.0.0.1:${p1}`], 30_000, AGENT)
  const node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, peers: [`127.0.0.1:${p1}`], logger: pino({ level: 'silent' }) })
  defer(async () => { await node.stop() })
  const deadline = Date.now() + 30_000
  while (node.members().filter(m => m.role === 'agent' && m.state === 'alive').length < 2) {
    if (Date.now() > deadline) throw new Error('the owner did not see both agents within 30 s')
    await sleep(100)
  }
  note('grid up: 2 agents + the owner')
  const seconds = args.quick ? 2 : 4
  const cache = new Map<string, number>()
  const primesMu = await calibrate(node, stage('primes.mjs'), PRIMES_ITEM, seconds)
  cache.set(calibrationKey(stage('primes.mjs'), PRIMES_ITEM), primesMu)
  note(`calibrated primes ${JSON.stringify(PRIMES_ITEM)} alone on one worker: ${primesMu.toFixed(1)} items/s (the primes steps go to that rate)`)
  let killed: number | undefined
  const list = scenarios(args.quick, pid => { killed = pid }, primesMu).filter(s => only == null || s.name === only)
  const calibrations = await calibrateAll(node, list, seconds, cache)
  const figures: Record<string, Figure> = {}
  const targets: TargetSpec[] = []
  const rows: Row[] = []
  const results: unknown[] = []
  for (const scenario of list) {
    note(`scenario ${scenario.name}`)
    const result = await runScenario(node, scenario, calibrations.get(scenario.name)!)
    for (const e of result.held) note(`  t=${(e.t / 1000).toFixed(1)} s ${e.stage} held at ${e.workers}: capacity ${e.capacityBefore}/s before the last scale-up, ${e.capacityAfter}/s after`)
    for (const e of result.scaled) note(`  t=${(e.t / 1000).toFixed(1)} s ${e.stage} ${e.delta > 0 ? '+' : ''}${e.delta} -> ${e.workers}: ${e.reason}`)
    for (const p of result.phases) note(`  ${p.stage} phase ${p.phase} (${p.rate}/s): ${p.decisions} decisions, optimum ${p.optimal} (μ alone ${p.mu}/s, seen ${p.muSeen}/s), most up ${p.maxWorkers}, optimum up after ${p.convergedMs ?? 'never'} ms, final ${p.finalWorkers}`)
    describe(scenario, result, figures, targets, rows)
    results.push(result)
  }
  if (list.some(s => s.fault != null) && killed == null) throw new Error('no worker pid was seen, so none was killed')
  return { figures, targets, rows, details: { utilization: 0.9, staffingBeta: STAFFING_BETA, scenarios: results } }
})
