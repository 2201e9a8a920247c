/**
 * `npm run bench:peers [-- --quick] [-- --report-only]`: gridd side by side
 * with BullMQ (+ a real redis-server) and Piscina (worker threads in this
 * process), same machine, same run, same stage modules, same items:
 *   (a) no-op items, one worker, every result back at the submitter;
 *   (b) CPU-bound items (the primes stage, 3-30 ms each) with 1 and 2 workers.
 * gridd runs as it is deployed: this script owns the pipeline, one
 * `grid node --agent` process runs the workers (three hops, mutual TLS).
 * Each system is started and warmed up for 1.2 s of the same work before the
 * clock. Medians of 3, the systems' order rotated every round. Prints a table and one
 * JSON line of ratios, writes bench-results/peers.json (test/bench/report.ts), and exits 1 when a
 * goal is missed (unless --report-only).
 */
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { median, note, round, table } from './lib.ts'
import { runBench } from './report.ts'
import type { Figure, Row } from './report.ts'
import { bullmq, gridd, piscina, startComparisonGrid } from './peers-systems.ts'
import type { System } from './peers-systems.ts'

const NOOP = fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url))
const PRIMES = fileURLToPath(new URL('../../examples/primes/count-primes.mjs', import.meta.url))
const ROUNDS = 3
const WARM_MS = 1_200

/** Limits from 90 k to 380 k: 3-30 ms of trial division each on an idle core here, the same sequence for every system. */
const primeItems = (n: number): unknown[] => Array.from({ length: n }, (_, id) => ({ id, limit: 90_000 + (id * 7_919) % 290_000 }))
const noopItems = (n: number): unknown[] => Array.from({ length: n }, (_, n) => ({ n }))

interface Work { figure: string, label: string, module: string, items: unknown[], workers: number, concurrency: Record<string, number> }

await runBench('peers', [], async (args, defer) => {
  const quick = args.quick
  const WORK: Work[] = [
    // many items in flight per worker for each, as each goes fastest: BullMQ's worker takes 100 jobs at once, Piscina posts up
    // to 100 tasks to its thread (63-89 k/s here against 42-58 k/s one at a time), gridd's credit window grows to 1024
    { figure: 'noop', label: 'no-op items, 1 worker, every result back at the submitter', module: NOOP, items: noopItems(quick ? 20_000 : 100_000), workers: 1, concurrency: { gridd: 1, BullMQ: 100, Piscina: 100 } },
    { figure: 'cpu1', label: 'CPU-bound items (primes, 3-30 ms), 1 worker', module: PRIMES, items: primeItems(quick ? 40 : 150), workers: 1, concurrency: { gridd: 1, BullMQ: 1, Piscina: 1 } },
    { figure: 'cpu2', label: 'CPU-bound items (primes, 3-30 ms), 2 workers on 2 cores', module: PRIMES, items: primeItems(quick ? 80 : 300), workers: 2, concurrency: { gridd: 1, BullMQ: 1, Piscina: 1 } }
  ]
  const grid = await startComparisonGrid('peers', defer)
  const systems: System[] = [gridd(await grid.owner()), bullmq(grid.redisPort), piscina()]

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
  const figures: Record<string, Figure> = {}
  const rows: Row[] = []
  for (const work of WORK) {
    for (const s of systems) figures[`${work.figure}.${s.name}`] = { value: Math.round(rate(work.figure, s.name)), unit: 'items/s', label: s.name === 'gridd' ? 'gridd (remote agent, mTLS)' : s.name === 'BullMQ' ? 'BullMQ + redis-server' : 'Piscina (threads)' }
    figures[`${work.figure}.gridd/BullMQ`] = { value: round(rate(work.figure, 'gridd') / rate(work.figure, 'BullMQ')), unit: '×', label: 'gridd/BullMQ' }
    figures[`${work.figure}.gridd/Piscina`] = { value: round(rate(work.figure, 'gridd') / rate(work.figure, 'Piscina')), unit: '×', label: 'gridd/Piscina' }
    rows.push({ what: `beside BullMQ and Piscina: ${work.label}`, figures: [`${work.figure}.gridd/BullMQ`, `${work.figure}.gridd/Piscina`, ...systems.map(s => `${work.figure}.${s.name}`)], note: `${work.items.length} items, medians of ${ROUNDS}, order rotated` })
  }
  process.stdout.write(table(['work (items/s, median of 3)', 'gridd (remote)', 'BullMQ + redis', 'Piscina (threads)', 'gridd/BullMQ', 'gridd/Piscina'],
    WORK.map(w => [`${w.figure} × ${w.items.length}`, ...['gridd', 'BullMQ', 'Piscina', 'gridd/BullMQ', 'gridd/Piscina'].map(k => String(figures[`${w.figure}.${k}`]!.value))])))
  process.stdout.write(`${JSON.stringify({ name: 'peers', quick, ratios: Object.fromEntries(Object.entries(figures).filter(([k]) => k.includes('/')).map(([k, f]) => [k, f.value])) })}\n`)
  return {
    figures,
    targets: [
      { figure: 'noop.gridd/BullMQ', comparator: '>=', bound: 5 },
      { figure: 'noop.gridd/Piscina', comparator: '>=', bound: 1.0 },
      { figure: 'cpu2.gridd/Piscina', comparator: '>=', bound: 0.95 }
    ],
    rows,
    details: { rates, loadAverageAtStart: grid.loadAtStart, loadAverageAtEnd: round(loadavg()[0]!, 1) }
  }
})
