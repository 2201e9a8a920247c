/**
 * `npm run bench:tasks [-- --quick] [-- --report-only]`: gridd's tasks
 * (`node.run`) side by side with BullMQ (+ a real redis-server, results
 * through QueueEvents) and Piscina (worker threads in this process), same
 * machine, same run, same no-op module, one worker each:
 *   (a) one task at a time: round trip p50/p99, from `run()` to its result at
 *       the submitter (gridd: this process owns the task, one `grid node --agent`
 *       process runs the worker: three hops each way, mutual TLS);
 *   (b) 1,000 tasks in flight: waves of 1,000 submitted at once, each wave
 *       waited for, tasks/s (medians of 5 rounds, 3 with --quick, the systems' order rotated);
 *   (c) the journal (`tasks.durable`) on vs off, on (a) and (b): a second owner
 *       with the other setting, measured in the same rounds. A build without
 *       the option reports it as not measured.
 * Every system is warmed up with the same work before the clock. Writes
 * bench-results/tasks.json (test/bench/report.ts) and exits 1 when a goal is missed.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { resolveTasksConfig } from '../../src/tasks/config.ts'
import type { TasksInit } from '../../src/tasks/config.ts'
import { median, note, percentile, round, table } from './lib.ts'
import { runBench } from './report.ts'
import type { Figure, Row, TargetSpec } from './report.ts'
import { bullmq, griddTasks, piscina, startComparisonGrid } from './peers-systems.ts'
import { journalCaughtUp, watchJournal } from './journal-watch.ts'
import type { System } from './peers-systems.ts'

const NOOP = fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url))
const IN_FLIGHT = 1_000
const WARM_MS = 1_000
/** How long a round waits for its journal to catch up before its clock stops anyway. */
const JOURNAL_CATCH_UP_MS = 10_000
/** In flight per worker for the throughput runs, as each goes fastest (see bench:peers); gridd's pool sizes its own window. */
const CONCURRENCY: Record<string, number> = { BullMQ: 100, Piscina: 100 }

/** Whether this build has `tasks.durable` (the journal), and its default. */
function journalOption (): { exists: boolean, byDefault: boolean } {
  const resolved = resolveTasksConfig({ durable: true } as unknown as TasksInit) as unknown as Record<string, unknown>
  if (!('durable' in resolved)) return { exists: false, byDefault: false }
  return { exists: true, byDefault: (resolveTasksConfig({}) as unknown as Record<string, unknown>).durable === true }
}

const items = (n: number, from = 0): unknown[] => Array.from({ length: n }, (_, i) => ({ n: from + i }))

await runBench('tasks', [], async (args, defer) => {
  watchJournal()
  const quick = args.quick
  const SAMPLES = quick ? 1_000 : 5_000
  const WAVES = quick ? 8 : 50
  // single rounds spread widely on a shared machine: more of them for the full run's medians
  const ROUNDS = quick ? 3 : 5
  const grid = await startComparisonGrid('tasks', defer)
  const dataDir = await mkdtemp(join(tmpdir(), 'gridd-bench-tasks-data-'))
  defer(async () => { await rm(dataDir, { recursive: true, force: true }) })
  // one worker for every system (min = max pins gridd's pool), like bench:peers' no-op items
  const pinned = { minWorkers: 1, maxWorkers: 1 }
  const journal = journalOption()
  const gridd = griddTasks(await grid.owner({ dataDir: join(dataDir, 'default'), tasks: pinned }), 'gridd')
  const systems: System[] = [gridd, bullmq(grid.redisPort), piscina()]
  // the journal's other setting, on a second owner of its own (the option is per node)
  const otherName = journal.byDefault ? 'gridd, journal off' : 'gridd, journal on'
  if (journal.exists) {
    const tasks = { ...pinned, durable: !journal.byDefault } as unknown as TasksInit
    systems.push(griddTasks(await grid.owner({ dataDir: join(dataDir, 'other'), tasks }), otherName))
  } else {
    note('this build has no tasks.durable option (the journal): journal on vs off is not measured')
  }

  // (a) one at a time: every system warmed, then SAMPLES sequential round trips
  const latency: Record<string, number[]> = {}
  for (const system of systems) {
    await system.prepare(NOOP, 1, 1)
    try {
      for (const until = performance.now() + WARM_MS; performance.now() < until;) await system.run(items(1))
      const ms: number[] = []
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = performance.now()
        await system.run(items(1, i))
        ms.push(performance.now() - t0)
      }
      latency[system.name] = ms
      note(`one at a time: ${system.name} p50 ${percentile(ms, 50)!.toFixed(3)} ms, p99 ${percentile(ms, 99)!.toFixed(3)} ms`)
    } finally {
      await system.release()
    }
  }

  // (b) 1,000 in flight: waves, rounds rotated so drift in the machine's load hits every system alike
  const rates: Record<string, number[]> = {}
  /** This process's CPU (every thread) per task while a system's waves ran: a gridd owner's share (its journal's thread too), or Piscina's all. */
  const cpuPerTask: Record<string, number[]> = {}
  const wave = items(IN_FLIGHT)
  for (let r = 0; r < ROUNDS; r++) {
    for (const system of [...systems.slice(r % systems.length), ...systems.slice(0, r % systems.length)]) {
      await system.prepare(NOOP, 1, CONCURRENCY[system.name] ?? 1)
      try {
        for (const until = performance.now() + WARM_MS; performance.now() < until;) await system.run(wave)
        const t0 = performance.now()
        const cpu0 = process.cpuUsage()
        let out = 0
        for (let w = 0; w < WAVES; w++) out += await system.run(wave)
        // a journal's writes are part of its round: its clock stops once they are done (see journal-watch.ts)
        if (!await journalCaughtUp(JOURNAL_CATCH_UP_MS)) note(`${system.name}: the journal had not caught up ${JOURNAL_CATCH_UP_MS / 1000} s after its round`)
        const rate = out / ((performance.now() - t0) / 1000)
        const cpu = process.cpuUsage(cpu0)
        ;(cpuPerTask[system.name] ??= []).push((cpu.user + cpu.system) / out)
        if (out !== WAVES * IN_FLIGHT) throw new Error(`${system.name}: ${out} results for ${WAVES * IN_FLIGHT} tasks`)
        ;(rates[system.name] ??= []).push(rate)
        note(`${IN_FLIGHT} in flight, round ${r + 1}: ${system.name} ${Math.round(rate)} tasks/s, this process ${((cpu.user + cpu.system) / out).toFixed(1)} µs CPU per task`)
      } finally {
        await system.release()
      }
    }
  }

  const ms = (name: string, p: number): number | null => latency[name] == null ? null : round(percentile(latency[name], p)!, 3)
  const rate = (name: string): number | null => rates[name] == null ? null : Math.round(median(rates[name]))
  const LABELS: Record<string, string> = { gridd: 'gridd (remote agent, mTLS)', BullMQ: 'BullMQ + redis-server', Piscina: 'Piscina (threads)' }
  const figures: Record<string, Figure> = {}
  for (const name of ['gridd', 'BullMQ', 'Piscina']) {
    figures[`oneAtATime.${name}.p50`] = { value: ms(name, 50), unit: 'ms', label: `${name} p50` }
    figures[`oneAtATime.${name}.p99`] = { value: ms(name, 99), unit: 'ms', label: `${name} p99` }
    figures[`inFlight.${name}`] = { value: rate(name), unit: 'tasks/s', label: LABELS[name] }
  }
  figures['inFlight.gridd/BullMQ'] = { value: round(rate('gridd')! / rate('BullMQ')!), unit: '×', label: 'gridd/BullMQ' }
  figures['inFlight.gridd/Piscina'] = { value: round(rate('gridd')! / rate('Piscina')!), unit: '×', label: 'gridd/Piscina' }
  // the journal: its cost is the share of the journal-off rate lost with it on
  const on = journal.byDefault ? 'gridd' : otherName
  const off = journal.byDefault ? otherName : 'gridd'
  const measured = journal.exists
  figures['journal.on'] = { value: measured ? rate(on) : null, unit: 'tasks/s', label: 'journal on' }
  figures['journal.off'] = { value: measured ? rate(off) : null, unit: 'tasks/s', label: 'journal off' }
  figures['journal.cost'] = { value: measured ? round((1 - rate(on)! / rate(off)!) * 100, 1) : null, unit: '%', label: 'cost' }
  // CPU is far less disturbed by the machine's load than a rate: the journal's cost on the owner itself
  const cpuOf = (name: string): number | null => cpuPerTask[name] == null ? null : round(median(cpuPerTask[name]), 1)
  figures['journal.cpuOn'] = { value: measured ? cpuOf(on) : null, unit: 'µs/task', label: 'owner CPU on' }
  figures['journal.cpuOff'] = { value: measured ? cpuOf(off) : null, unit: 'µs/task', label: 'owner CPU off' }
  figures['journal.p50On'] = { value: measured ? ms(on, 50) : null, unit: 'ms', label: 'one at a time p50 on' }
  figures['journal.p50Off'] = { value: measured ? ms(off, 50) : null, unit: 'ms', label: 'p50 off' }

  const targets: TargetSpec[] = [
    { figure: 'oneAtATime.gridd.p50', comparator: '<=', bound: 0.5 },
    { figure: 'inFlight.gridd/BullMQ', comparator: '>=', bound: 5 },
    { figure: 'inFlight.gridd/Piscina', comparator: '>=', bound: 0.8 }
  ]
  // not measured is said as such (the row's note), not counted as met or missed
  if (measured) targets.push({ figure: 'journal.cost', comparator: '<=', bound: 20 })
  const rows: Row[] = [
    { what: 'remote no-op task one at a time, round trip at the submitter (owner → agent → worker and back)', figures: ['oneAtATime.gridd.p50', 'oneAtATime.gridd.p99', 'oneAtATime.BullMQ.p50', 'oneAtATime.BullMQ.p99', 'oneAtATime.Piscina.p50', 'oneAtATime.Piscina.p99'], note: `${SAMPLES} tasks each, after ${WARM_MS} ms warm-up; 1 worker each` },
    { what: `beside BullMQ and Piscina: no-op tasks, ${IN_FLIGHT.toLocaleString('en')} in flight, every result back at the submitter`, figures: ['inFlight.gridd/BullMQ', 'inFlight.gridd/Piscina', 'inFlight.gridd', 'inFlight.BullMQ', 'inFlight.Piscina'], note: `waves of ${IN_FLIGHT} × ${WAVES}, medians of ${ROUNDS}, order rotated; 1 worker each` },
    { what: 'task journal (SQLite, `tasks.durable`) on vs off, tasks 1,000 in flight', figures: ['journal.cost', 'journal.on', 'journal.off', 'journal.cpuOn', 'journal.cpuOff', 'journal.p50On', 'journal.p50Off'], note: measured ? `same rounds as above, a second owner with journal ${journal.byDefault ? 'off' : 'on'}` : 'not measured: this build has no `tasks.durable` option' }
  ]
  process.stdout.write(table(['system', 'one at a time p50 (ms)', 'p99 (ms)', `${IN_FLIGHT} in flight (tasks/s, median of ${ROUNDS})`],
    systems.map(s => [s.name, String(ms(s.name, 50)), String(ms(s.name, 99)), String(rate(s.name))])))
  return {
    figures,
    targets,
    rows,
    details: { samples: SAMPLES, waves: WAVES, rates, cpuPerTaskUs: Object.fromEntries(Object.entries(cpuPerTask).map(([name, us]) => [name, us.map(u => round(u, 1))])), journal, loadAverageAtStart: grid.loadAtStart, loadAverageAtEnd: round(loadavg()[0]!, 1) }
  }
})
