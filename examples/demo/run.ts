/**
 * `npm start`: the one-machine demo. A dev grid of one member and two agents
 * (three `grid node --dev` processes), then this script joins it with an
 * embedded GridNode and runs the primes pipeline on the agents: input at
 * 4 items/s, a 10x step up, then down. A live view redraws each second; the
 * run's summary ends it. `--quick` shortens the phases; `--dashboard PORT`
 * also serves the live web dashboard of this node; Ctrl-C (or SIGTERM) stops
 * early, and stops the three node processes too. `--peer ADDR --certs DIR`
 * runs it against a grid already running instead (see existing-grid.ts;
 * deploy/compose.yaml's `demo` service does that); it waits for two agents.
 */
import { GridNode } from '../../src/index.ts'
import { fileURLToPath } from 'node:url'
import { startDevNodes } from '../shared/dev-nodes.ts'
import type { DevNodes } from '../shared/dev-nodes.ts'
import { PHASES, primesSource } from '../primes/source.ts'
import type { Phase } from '../primes/source.ts'
import { renderView } from './view.ts'
import { existingGridFromArgs } from './existing-grid.ts'
import { USAGE, parseDemoArgs } from './args.ts'
import type { DemoArgs } from './args.ts'
import { startDashboard } from '../../src/dashboard/server.ts'
import type { Dashboard } from '../../src/dashboard/server.ts'

let args: DemoArgs
try {
  args = parseDemoArgs(process.argv.slice(2))
} catch (err) {
  process.stderr.write(`demo: ${(err as Error).message}\n\n${USAGE}`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}
const quick = args.quick
const live = process.stdout.isTTY && !args.plain
const phases: Phase[] = quick ? PHASES.map(p => ({ ...p, seconds: Math.ceil(p.seconds / 3) })) : PHASES
const STAGE = fileURLToPath(new URL('../primes/count-primes.mjs', import.meta.url))

const stop = new AbortController()
let stopped = false
let grid: DevNodes | undefined
let node: GridNode | undefined
let dashboard: Dashboard | undefined
/** Stops whatever has started so far; safe at any point, and twice. */
async function shutdown (): Promise<void> {
  if (stopped) return
  stopped = true
  stop.abort()
  await dashboard?.close()
  await node?.stop()
  await grid?.stop()
}
// handlers first: a signal during start-up must still stop the node processes already spawned
// (a test runner's timeout, or `kill`, sends SIGTERM)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { void shutdown() })
/** A signal came while starting: stop what started, and end here. */
async function stoppedWhileStarting (): Promise<never> {
  await Promise.all([node?.stop(), grid?.stop()])
  process.exit(process.exitCode ?? 0)
}

const existing = await existingGridFromArgs(args)
if (existing == null) {
  console.log('starting a dev grid: 1 member + 2 agents (grid node --dev processes on 127.0.0.1)')
  grid = await startDevNodes([[], ['--agent'], ['--agent']], (port, code) => {
    console.error(`the node on 127.0.0.1:${port} exited early (code ${code})`)
    process.exitCode = 1
    void shutdown()
  })
  if (stopped) await stoppedWhileStarting()
} else {
  console.log(`joining the grid at ${existing.peer}`)
}
const owner = node = existing == null
  ? await GridNode.start({ host: '127.0.0.1', port: 0, dev: true, devName: 'demo-owner', peers: [`127.0.0.1:${grid!.ports[0]}`] })
  : await GridNode.start(existing.init)
if (stopped) await stoppedWhileStarting()

// a dev grid: its 3 nodes alive; a grid already running: 2 agents alive (it may be starting too)
const ready = (): boolean => existing == null
  ? owner.members().filter(m => m.state === 'alive').length >= 3
  : owner.members().filter(m => m.state === 'alive' && m.role === 'agent').length >= 2
const deadline = Date.now() + (existing == null ? 30_000 : 120_000)
while (!ready()) {
  if (stopped) await stoppedWhileStarting()
  if (Date.now() > deadline) { console.error('the grid did not come up (or has fewer than 2 agents) within the time allowed'); process.exitCode = 1; await shutdown(); process.exit() }
  await new Promise(resolve => setTimeout(resolve, 200))
}
console.log(`grid up: ${existing?.peer ?? grid!.ports.map(p => `127.0.0.1:${p}`).join(', ')}; running primes`)
dashboard = args.dashboard != null ? await startDashboard(owner, { port: args.dashboard }, owner.log) : undefined
if (dashboard != null) console.log(`dashboard: ${dashboard.url}`)

let phase = ''
let results = 0
const decisions: string[] = []
const startedAt = performance.now()
const run = owner.pipeline('primes', {
  source: primesSource(phases, (p, i) => { phase = `${p.label} (phase ${i + 1}/${phases.length})` }, stop.signal),
  stages: [{ name: 'count-primes', module: STAGE, minWorkers: 1, maxWorkers: 4 }],
  sink: () => { results++ },
  scaleDownAfterMs: quick ? 2000 : 5000,
  signal: stop.signal
})
run.on('stage:scaled', e => {
  decisions.push(`t=${((performance.now() - startedAt) / 1000).toFixed(1)} s ${e.stage} ${e.delta > 0 ? '+' : ''}${e.delta} -> ${e.workers} workers: ${e.reason}`)
})
run.on('item:failed', e => { decisions.push(`item ${e.id} failed: ${e.error.message}`) })
run.on('stage:unplaceable', e => { decisions.push(`t=${((performance.now() - startedAt) / 1000).toFixed(1)} s ${e.stage} cannot be placed: ${e.reason}`) })

function draw (): void {
  const text = renderView({ elapsedS: (performance.now() - startedAt) / 1000, phase, selfId: owner.peerId, members: [owner.self(), ...owner.members()], stages: run.stats().stages, results, decisions })
  // a TTY gets one redrawn screen; a pipe or file gets one block per second
  process.stdout.write(live ? `\x1b[H\x1b[2J${text}` : `${text}---\n`)
}
const timer = setInterval(draw, 1000)
try {
  const summary = await run.done
  draw()
  console.log('\nsummary:', JSON.stringify(summary, null, 2))
  // a script (compose's demo service, a test) sees a run that lost items as a failure
  if (summary.failed > 0 && !stopped) process.exitCode = 1
} catch (err) {
  console.error(`the run ended: ${(err as Error).message}`)
  // stopped by a signal: the ending asked for, not a failure
  if (!stopped) process.exitCode = 1
} finally {
  clearInterval(timer)
  await shutdown()
}
