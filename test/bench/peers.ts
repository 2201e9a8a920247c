/**
 * `npm run bench:peers [-- --quick] [-- --report-only]`: gridd side by side
 * with BullMQ (+ a real redis-server) and Piscina (worker threads in this
 * process), same machine, same run, same stage modules, same items:
 *   (a) no-op items, one worker, every result back at the submitter;
 *   (b) CPU-bound items (the primes stage, 3-30 ms each) with 1 and 2 workers.
 * gridd runs as it is deployed: this script owns the pipeline, one
 * `grid node --agent` process runs the workers (three hops, mutual TLS).
 * Each system is started and warmed up for 1.2 s of the same work before the
 * clock. Medians of 3, the systems' order rotated every round. Prints a table, one
 * JSON line of ratios, writes bench-results/peers.json, and exits 1 when a
 * goal is missed (unless --report-only).
 */
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { startNode } from '../integration/helpers/grid-process.ts'
import type { GridProcess } from '../integration/helpers/grid-process.ts'
import { note, sleep, table } from './lib.ts'
import { bullmq, gridd, piscina, startOwner, startRedis } from './peers-systems.ts'
import type { System } from './peers-systems.ts'

const quick = process.argv.includes('--quick')
const reportOnly = process.argv.includes('--report-only')
const NOOP = fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url))
const PRIMES = fileURLToPath(new URL('../../examples/primes/count-primes.mjs', import.meta.url))
const ROUNDS = 3
const WARM_MS = 1_200

/** Limits from 90 k to 380 k: 3-30 ms of trial division each on an idle core here, the same sequence for every system. */
const primeItems = (n: number): unknown[] => Array.from({ length: n }, (_, id) => ({ id, limit: 90_000 + (id * 7_919) % 290_000 }))
const noopItems = (n: number): unknown[] => Array.from({ length: n }, (_, n) => ({ n }))

interface Work { figure: string, module: string, items: unknown[], workers: number, concurrency: Record<string, number> }
const WORK: Work[] = [
  // many items in flight per worker for each, as each goes fastest: BullMQ's worker takes 100 jobs at once, Piscina posts up
  // to 100 tasks to its thread (63-89 k/s here against 42-58 k/s one at a time), gridd's credit window grows to 1024
  { figure: 'noop', module: NOOP, items: noopItems(quick ? 20_000 : 100_000), workers: 1, concurrency: { gridd: 1, BullMQ: 100, Piscina: 100 } },
  { figure: 'cpu1', module: PRIMES, items: primeItems(quick ? 40 : 150), workers: 1, concurrency: { gridd: 1, BullMQ: 1, Piscina: 1 } },
  { figure: 'cpu2', module: PRIMES, items: primeItems(quick ? 80 : 300), workers: 2, concurrency: { gridd: 1, BullMQ: 1, Piscina: 1 } }
]

interface Target { figure: string, comparator: '>=', bound: number, value: number, pass: boolean }

/** Stand-in for the shared report helper: one JSON file per benchmark under bench-results/. */
async function writeResult (result: { name: string, figures: Record<string, number>, targets: Target[] }): Promise<string> {
  const dir = fileURLToPath(new URL('../../bench-results/', import.meta.url))
  await mkdir(dir, { recursive: true })
  let commit = 'unknown'
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim() } catch {}
  const pass = result.targets.every(t => t.pass)
  const file = join(dir, `${result.name}.json`)
  await writeFile(file, `${JSON.stringify({ ...result, pass, date: new Date().toISOString(), commit, machine: { cores: availableParallelism(), node: process.version } }, null, 2)}\n`)
  return file
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits

const certs = await mkdtemp(join(tmpdir(), 'gridd-bench-peers-'))
let agent: GridProcess | undefined
let owner: Awaited<ReturnType<typeof startOwner>> | undefined
let redis: Awaited<ReturnType<typeof startRedis>> | undefined
let failed = false
try {
  await initCertsDir(certs)
  for (const name of ['agent', 'owner']) await issueIntoDir(certs, name)
  agent = await startNode(['--certs', certs, '--name', 'agent', '--agent', '--workers', '2', '--cpu', '2'])
  owner = await startOwner(await loadCerts(certs, 'owner'), agent.address)
  while (!owner.members().some(m => m.role === 'agent' && m.state === 'alive')) await sleep(50)
  redis = await startRedis()
  // other work on the machine skews all three, the multi-process ones (gridd, BullMQ) most: say how busy it was
  note(`gridd agent at ${agent.address}; redis-server on 127.0.0.1:${redis.port}${quick ? '; --quick' : ''}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`)
  const systems: System[] = [gridd(owner), bullmq(redis.port), piscina()]

  // items/s per work and system, one entry per round
  const rates: Record<string, Record<string, number[]>> = {}
  for (const work of WORK) {
    rates[work.figure] = {}
    for (let r = 0; r < ROUNDS; r++) {
      // rotate the order each round, so drift in machine load hits every system alike
      for (const system of [...systems.slice(r % 3), ...systems.slice(0, r % 3)]) {
        await system.prepare(work.module, work.workers, work.concurrency[system.name] ?? 1)
        try {
          // warm every system alike before the clock: started workers, JIT, gridd's credit window (sized each 1 s tick)
          const warm = work.items.slice(0, work.figure === 'noop' ? 2_000 : 2 * work.workers)
          for (const until = performance.now() + WARM_MS; performance.now() < until;) await system.run(warm)
          const t0 = performance.now()
          const out = await system.run(work.items)
          const rate = work.items.length / ((performance.now() - t0) / 1000)
          if (out !== work.items.length) throw new Error(`${system.name}: ${out} results for ${work.items.length} items`)
          ;(rates[work.figure]![system.name] ??= []).push(rate)
          note(`${work.figure} round ${r + 1}: ${system.name} ${Math.round(rate)} items/s`)
        } finally {
          await system.release()
        }
      }
    }
  }

  const rate = (figure: string, system: string): number => median(rates[figure]![system]!)
  const figures: Record<string, number> = {}
  for (const work of WORK) {
    for (const s of systems) figures[`${work.figure}.${s.name}`] = Math.round(rate(work.figure, s.name))
    figures[`${work.figure}.gridd/BullMQ`] = round(rate(work.figure, 'gridd') / rate(work.figure, 'BullMQ'))
    figures[`${work.figure}.gridd/Piscina`] = round(rate(work.figure, 'gridd') / rate(work.figure, 'Piscina'))
  }
  const goal = (figure: string, bound: number): Target => ({ figure, comparator: '>=', bound, value: figures[figure]!, pass: figures[figure]! >= bound })
  const targets = [goal('noop.gridd/BullMQ', 5), goal('noop.gridd/Piscina', 1.0), goal('cpu2.gridd/Piscina', 0.95)]

  const label: Record<string, string> = { noop: 'no-op, 1 worker', cpu1: 'primes (3-30 ms), 1 worker', cpu2: 'primes (3-30 ms), 2 workers' }
  process.stdout.write(table(['work (items/s, median of 3)', 'gridd (remote)', 'BullMQ + redis', 'Piscina (threads)', 'gridd/BullMQ', 'gridd/Piscina'],
    WORK.map(w => [`${label[w.figure]} × ${w.items.length}`, ...['gridd', 'BullMQ', 'Piscina', 'gridd/BullMQ', 'gridd/Piscina'].map(k => String(figures[`${w.figure}.${k}`]))])))
  for (const t of targets) process.stdout.write(`${t.figure} ${t.value} (goal ${t.comparator} ${t.bound}): ${t.pass ? 'pass' : 'MISS'}\n`)
  process.stdout.write(`${JSON.stringify({ name: 'peers', quick, ratios: Object.fromEntries(Object.entries(figures).filter(([k]) => k.includes('/'))) })}\n`)
  note(`load average at the end ${loadavg()[0]!.toFixed(1)}; wrote ${await writeResult({ name: 'peers', figures, targets })}`)
  failed = !targets.every(t => t.pass)
} finally {
  await owner?.stop()
  await agent?.stop()
  await redis?.stop()
  await rm(certs, { recursive: true, force: true })
}
if (failed && !reportOnly) process.exitCode = 1
