/**
 * `npm run bench:equalizer`: the equalizer on a real grid (two agent
 * processes, the pipeline owned by this process), under
 *   1. the primes stage (CPU-bound) with a 10x input step up, then down;
 *   2. an I/O-bound stage (20 ms per item) with a 10x step up, then down: wide enough to need ~10 workers
 *      (primes cannot show that on 2 cores);
 *   3. primes feeding a downstream that slows down (primes must not scale);
 *   4. SIGKILL of a primes worker mid-run.
 * Prints per step: decisions, time to converge, overshoot vs the optimum
 * ceil(λ / (μ·0.9)) from the measured μ, items lost and duplicated, p50/p99
 * latency. Targets: <= 3 decisions, overshoot <= 1, 0 lost.
 * `--quick` shortens every phase (a smoke run, not for the README).
 */
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { Cluster, note, sleep, table } from './lib.ts'
import { runScenario } from './equalizer-scenario.ts'
import type { ScenarioInit, ScenarioResult } from './equalizer-scenario.ts'

const QUICK = process.argv.includes('--quick')
const scale = (seconds: number): number => QUICK ? Math.max(2, Math.round(seconds / 3)) : seconds
const stage = (name: string): string => fileURLToPath(new URL(`./stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '16', '--cpu', '16', '--memory', '16384']
const SCALE_DOWN_MS = QUICK ? 3000 : 10_000
// `--only=worker-sigkill` runs one scenario
const ONLY = process.argv.find(a => a.startsWith('--only='))?.slice(7)
const wanted = (name: string): boolean => ONLY == null || ONLY === name

const cluster = new Cluster()
process.on('exit', () => { cluster.killAllSync() })
let node: GridNode | undefined
try {
  const [p1, p2] = [await cluster.freePort(), await cluster.freePort()]
  await cluster.start(p1!, [], 30_000, AGENT)
  await cluster.start(p2!, [`127.0.0.1:${p1}`], 30_000, AGENT)
  node = await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, peers: [`127.0.0.1:${p1}`], logger: pino({ level: 'silent' }) })
  const deadline = Date.now() + 30_000
  while (node.members().filter(m => m.role === 'agent' && m.state === 'alive').length < 2) {
    if (Date.now() > deadline) throw new Error('the owner did not see both agents within 30 s')
    await sleep(100)
  }
  note('grid up: 2 agents + the owner')
  const results: ScenarioResult[] = []

  let killed: number | undefined
  const scenarios: ScenarioInit[] = [{
    name: 'primes-step',
    stages: [{ name: 'primes', module: stage('primes.mjs'), minWorkers: 1, maxWorkers: 8 }],
    phases: [{ rate: 4, seconds: scale(8) }, { rate: 40, seconds: scale(15) }, { rate: 4, seconds: scale(20) }],
    item: () => ({ limit: 400_000 }),
    scaleDownAfterMs: SCALE_DOWN_MS
  }, {
    name: 'io-step',
    stages: [{ name: 'io', module: stage('sleep.mjs'), minWorkers: 1, maxWorkers: 32 }],
    phases: [{ rate: 40, seconds: scale(8) }, { rate: 400, seconds: scale(15) }, { rate: 40, seconds: scale(20) }],
    item: () => ({ ms: 20 }),
    scaleDownAfterMs: SCALE_DOWN_MS
  }, {
    // primes feeds a stage that slows from 5 ms to 50 ms per item: only the downstream may grow
    name: 'downstream-slowdown',
    stages: [
      { name: 'primes', module: stage('primes.mjs'), minWorkers: 1, maxWorkers: 8 },
      { name: 'downstream', module: stage('sleep-downstream.mjs'), minWorkers: 1, maxWorkers: 32 }
    ],
    phases: [{ rate: 20, seconds: scale(10) }, { rate: 20, seconds: scale(15) }],
    item: (_id: number, phase: number) => ({ limit: 400_000, downMs: phase === 0 ? 5 : 50 }),
    scaleDownAfterMs: SCALE_DOWN_MS
  }, {
    name: 'worker-sigkill',
    stages: [{ name: 'primes', module: stage('primes.mjs'), minWorkers: 1, maxWorkers: 8 }],
    // settled first (the kill must hit a stage at its steady size), then a worker is SIGKILLed
    phases: [{ rate: 40, seconds: scale(20) }, { rate: 40, seconds: scale(12) }],
    item: () => ({ limit: 400_000 }),
    scaleDownAfterMs: SCALE_DOWN_MS,
    fault: {
      atMs: scale(20) * 1000 + 500,
      run: (pids: number[]) => {
        killed = pids[0]
        if (killed != null) { note(`SIGKILL worker pid ${killed}`); process.kill(killed, 'SIGKILL') }
      }
    }
  }].filter(s => wanted(s.name))
  for (const scenario of scenarios) {
    note(`scenario ${scenario.name}`)
    const result = await runScenario(node, scenario)
    for (const e of result.scaled) note(`  t=${(e.t / 1000).toFixed(1)} s ${e.stage} ${e.delta > 0 ? '+' : ''}${e.delta} -> ${e.workers}: ${e.reason}`)
    results.push(result)
  }
  if (wanted('worker-sigkill') && killed == null) throw new Error('no worker pid was seen, so none was killed')

  const rows = results.flatMap(r => r.phases.map(p => [r.name, p.stage, String(p.phase), `${p.rate}/s`, String(p.decisions), `${p.convergeMs} ms`, String(p.mu), String(p.optimal), String(p.maxWorkers), String(p.overshoot), String(p.finalWorkers)]))
  process.stdout.write(table(['scenario', 'stage', 'phase', 'input', 'decisions', 'converged after', 'μ/worker', 'optimal', 'max workers', 'overshoot', 'final'], rows))
  process.stdout.write(table(['scenario', 'sent', 'received', 'lost', 'duplicates', 'retried', 'failed', 'workers lost', 'latency p50', 'latency p99'],
    results.map(r => [r.name, String(r.sent), String(r.received), String(r.lost), String(r.duplicates), String(r.retried), String(r.failed), String(r.workersLost), `${r.latencyP50Ms} ms`, `${r.latencyP99Ms} ms`])))
  process.stdout.write(`${JSON.stringify(results.map(({ scaled, ...r }) => r))}\n`)
} finally {
  await node?.stop()
  await cluster.close()
}
