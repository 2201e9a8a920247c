/**
 * `node test/bench/tasks-journal-cost.ts [--rounds N]`: the task journal's
 * cost alone, as bench:tasks measures it (no-op tasks 1,000 in flight on a
 * remote agent, two owners in this process, journal on and off, rounds
 * alternated) without the other systems, so more rounds fit in the same
 * time; besides tasks/s it reports this process's CPU per task, on its main
 * thread and on all its threads (the journal's writer thread included),
 * which a loaded machine disturbs far less than a rate.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { median, note } from './lib.ts'
import { griddTasks, startComparisonGrid } from './peers-systems.ts'
import type { System } from './peers-systems.ts'
import type { TasksInit } from '../../src/tasks/config.ts'
import { journalCaughtUp, watchJournal } from './journal-watch.ts'

const NOOP = fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url))
const IN_FLIGHT = 1_000
const WAVES = 8
const WARM_MS = 1_000
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' } } })
const ROUNDS = Number(values.rounds)

watchJournal()
const cleanups: Array<() => unknown> = []
const defer = (fn: () => unknown): void => { cleanups.push(fn) }
try {
  const grid = await startComparisonGrid('tasks-journal-cost', defer)
  const dataDir = await mkdtemp(join(tmpdir(), 'gridd-bench-journal-cost-'))
  defer(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const pinned = { minWorkers: 1, maxWorkers: 1 }
  const systems: System[] = [
    griddTasks(await grid.owner({ dataDir: join(dataDir, 'on'), tasks: { ...pinned, durable: true } as TasksInit }), 'on'),
    griddTasks(await grid.owner({ dataDir: join(dataDir, 'off'), tasks: { ...pinned, durable: false } as TasksInit }), 'off')
  ]
  const rates: Record<string, number[]> = { on: [], off: [] }
  const cpu: Record<string, number[]> = { on: [], off: [] }
  const allThreads: Record<string, number[]> = { on: [], off: [] }
  const wave = Array.from({ length: IN_FLIGHT }, (_, i) => ({ n: i }))
  for (let r = 0; r < ROUNDS; r++) {
    for (const system of r % 2 === 0 ? systems : [...systems].reverse()) {
      await system.prepare(NOOP, 1, 1)
      try {
        for (const until = performance.now() + WARM_MS; performance.now() < until;) await system.run(wave)
        const cpu0 = process.threadCpuUsage()
        const all0 = process.cpuUsage()
        const t0 = performance.now()
        let out = 0
        for (let w = 0; w < WAVES; w++) out += await system.run(wave)
        // the journal's writes are part of its round (journal-watch.ts)
        await journalCaughtUp(10_000)
        const rate = out / ((performance.now() - t0) / 1000)
        const used = process.threadCpuUsage(cpu0)
        const usedAll = process.cpuUsage(all0)
        rates[system.name]!.push(rate)
        cpu[system.name]!.push((used.user + used.system) / out)
        allThreads[system.name]!.push((usedAll.user + usedAll.system) / out)
        note(`round ${r + 1}: journal ${system.name} ${Math.round(rate)} tasks/s, main thread ${((used.user + used.system) / out).toFixed(1)} µs/task, all threads ${((usedAll.user + usedAll.system) / out).toFixed(1)} µs/task`)
      } finally {
        await system.release()
      }
    }
  }
  const on = median(rates.on!)
  const off = median(rates.off!)
  note(`medians of ${ROUNDS}: on ${Math.round(on)} tasks/s, off ${Math.round(off)} tasks/s: cost ${((1 - on / off) * 100).toFixed(1)} %; main thread on ${median(cpu.on!).toFixed(1)} µs/task, off ${median(cpu.off!).toFixed(1)} µs/task; all threads on ${median(allThreads.on!).toFixed(1)}, off ${median(allThreads.off!).toFixed(1)} µs/task; load ${grid.loadAtStart} -> ${loadavg()[0]!.toFixed(1)}`)
} finally {
  for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => {})
}
