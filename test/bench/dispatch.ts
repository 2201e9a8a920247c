/**
 * `npm run bench:dispatch`: items/s through a remote no-op stage (owner here,
 * agent and worker in other processes) vs raw libp2p length-prefixed echo on
 * one stream to another process, in this run, like for like: in each case the
 * echo keeps as many messages in flight as the pipeline may keep items in
 * flight (its credit window), so only batching and the extra hops differ.
 *   - both pinned at 16 (no target: the pipeline's round trip has three hops against the echo's one)
 *   - both pinned at 256 (target >= 1.0)
 *   - the pipeline's defaults (window 16, grown for cheap items up to 1024) vs the echo at 1024 (target >= 1.0)
 * Both are measured warm: the echo after a first untimed run, the pipeline after WARM_MS of the same items.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { GridNode } from '../../src/node.ts'
import { createGridLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { note, sleep, startGridNode } from './lib.ts'
import { runBench } from './report.ts'
import type { Figure, Row, TargetSpec } from './report.ts'

const CASES = [
  { id: 'pinned16', label: 'both pinned at 16', echoWindow: 16, window: 16, maxWindow: 16, target: false },
  { id: 'pinned256', label: 'both pinned at 256', echoWindow: 256, window: 256, maxWindow: 256, target: true },
  { id: 'adaptive1024', label: 'pipeline defaults (16, grows to 1024) vs echo at 1024', echoWindow: 1024, window: 16, maxWindow: undefined, target: true }
]
const REPEATS = 3
/** Both sides run this long before the clock: the worker is up, JIT is warm, the adaptive window is sized. */
const WARM_MS = 1_500

await runBench('dispatch', ['--items'], async (args, defer) => {
  const ITEMS = Math.max(1000, Math.round(args.number('--items', args.quick ? 50_000 : 300_000)))
  const dir = await mkdtemp(join(tmpdir(), 'gridd-bench-dispatch-'))
  defer(async () => { await rm(dir, { recursive: true, force: true }) })
  await initCertsDir(dir)
  for (const name of ['agent', 'echo', 'owner', 'probe']) await issueIntoDir(dir, name, { roles: ['member', 'agent'] })
  const echoProc = spawn(process.execPath, [fileURLToPath(new URL('./echo-server.ts', import.meta.url)), dir, 'echo'], { stdio: ['ignore', 'pipe', 'inherit'] })
  defer(() => { echoProc.kill('SIGKILL') })
  const client = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(dir, 'probe'), log: pino({ level: 'silent' }) })
  defer(async () => { await client.stop() })
  const [line] = await once(echoProc.stdout!, 'data') as [Buffer]
  const echoAddr = multiaddr(line.toString().trim())
  note(`echo peer at ${echoAddr.toString()}`)

  async function echoRate (WINDOW: number): Promise<number> {
    const lp = lpStream(await client.dialProtocol(echoAddr, '/bench/echo/1.0.0'))
    const encoder = new TextEncoder()
    const t0 = performance.now()
    let sent = 0
    let received = 0
    const reader = (async () => { while (received < ITEMS) { await lp.read(); received++ } })()
    while (sent < ITEMS) {
      while (sent - received >= WINDOW) await new Promise(resolve => setImmediate(resolve))
      await lp.write(encoder.encode(JSON.stringify({ n: sent++ })))
    }
    await reader
    return ITEMS / ((performance.now() - t0) / 1000)
  }

  /**
   * Steady state, like the echo's: the worker is up and the pipeline has run for
   * WARM_MS (past an equalizer tick, which sizes an adaptive window) before the clock.
   */
  async function pipelineRate (window: number, maxWindow: number | undefined): Promise<number> {
    let out = 0
    const run = owner.pipeline('dispatch', {
      // one worker (min = max): the equalizer only measures, and sizes the window
      stages: [{ name: 'noop', module: fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url)), minWorkers: 1, maxWorkers: 1 }],
      sink: () => { out++ },
      window,
      maxWindow
    })
    let n = 0
    for (const until = performance.now() + WARM_MS; performance.now() < until;) await run.push({ n: n++ })
    while (out < n) await sleep(1)
    const t0 = performance.now()
    for (let i = 0; i < ITEMS; i++) await run.push({ n: n++ })
    run.end()
    const summary = await run.done
    if (summary.out !== n || out !== n) throw new Error(`lost items: ${JSON.stringify(summary)}`)
    return ITEMS / ((performance.now() - t0) / 1000)
  }

  const agent = await startGridNode(['--host', '127.0.0.1', '--port', '0', '--certs', dir, '--name', 'agent', '--agent', '--workers', '2'])
  defer(async () => { await agent.stop('SIGKILL') })
  const owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(dir, 'owner'), peers: [agent.address], logger: pino({ level: 'silent' }) })
  defer(async () => { await owner.stop() })
  note('owner started, waiting for the agent')
  while (!owner.members().some(m => m.role === 'agent' && m.state === 'alive')) await sleep(50)
  note('agent alive')
  const median = (xs: number[]): number => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!)
  const figures: Record<string, Figure> = {}
  const targets: TargetSpec[] = []
  const rows: Row[] = []
  const runs: Record<string, { echo: number[], pipeline: number[] }> = {}
  for (const c of CASES) {
    const echo: number[] = []
    const pipe: number[] = []
    // the echo's warm-up: one untimed run at this window
    await echoRate(c.echoWindow)
    for (let i = 0; i < REPEATS; i++) {
      echo.push(await echoRate(c.echoWindow))
      note(`${c.label}: echo (window ${c.echoWindow}) run ${i + 1}: ${Math.round(echo.at(-1)!)} msgs/s`)
      pipe.push(await pipelineRate(c.window, c.maxWindow))
      note(`${c.label}: pipeline (window ${c.window}${c.maxWindow == null ? ', adaptive' : ''}) run ${i + 1}: ${Math.round(pipe.at(-1)!)} items/s`)
    }
    runs[c.id] = { echo: echo.map(Math.round), pipeline: pipe.map(Math.round) }
    figures[`${c.id}.ratio`] = { value: Math.round(median(pipe) / median(echo) * 100) / 100, unit: '×', label: 'ratio' }
    figures[`${c.id}.pipelineItemsPerS`] = { value: median(pipe), unit: 'items/s', label: 'pipeline' }
    figures[`${c.id}.echoMsgsPerS`] = { value: median(echo), unit: 'msgs/s', label: 'echo' }
    if (c.target) targets.push({ figure: `${c.id}.ratio`, comparator: '>=', bound: 1.0 })
    rows.push({
      what: `remote no-op stage vs raw libp2p LP echo on one stream, ${c.label}`,
      figures: [`${c.id}.ratio`, `${c.id}.pipelineItemsPerS`, `${c.id}.echoMsgsPerS`],
      note: `medians of ${REPEATS} × ${ITEMS} items, same run${c.target ? '' : '; no target: at this window the pipeline\'s three hops (owner → agent → worker) cap it against the echo\'s one'}`
    })
  }
  return { figures, targets, rows, details: { items: ITEMS, repeats: REPEATS, cases: CASES, runs } }
})
