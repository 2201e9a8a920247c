/**
 * `node test/bench/tasks-owner-path.ts [--durable] [--seconds N] [--answer-after-ms N]`: the owner's
 * own share of bench:tasks' 1,000-in-flight work, without the network: the
 * real `Tasks` (sessions, the pool, the queue, the journal with --durable) over
 * a stand-in worker that answers every item of a turn in the next one, its
 * values through JSON as from the wire. Prints tasks/s and CPU per task, by
 * this process's main thread and its other threads (the collector's, the
 * journal's writer). A machine's load moves it far less than bench:tasks'
 * rates: run the two versions of a change in alternation and compare CPU.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { Tasks } from '../../src/tasks/tasks.ts'
import type { ItemListener } from '../../src/owner/worker-handle.ts'
import { StandInWorker } from '../fixtures/tasks/stand-in-worker.ts'
import { JournalWriter } from '../../src/tasks/journal-writer.ts'
import { note } from './lib.ts'

/**
 * Answers each turn's items in the next turn, as a remote worker's batch of results would come back
 * (or `answerAfterMs` later: a wave of tasks then lives about as long as on the network; the whole wave
 * is sent at once, as the window of a remote worker grows to hold it).
 */
class TurnWorker extends StandInWorker {
  static answerAfterMs = 0
  private items: unknown[] = []
  private listeners: ItemListener[] = []

  async process (): Promise<unknown> { throw new Error('items come through submit') }

  submit (item: unknown, listener: ItemListener): void {
    if (this.items.length === 0) {
      if (TurnWorker.answerAfterMs > 0) setTimeout(() => { this.answer() }, TurnWorker.answerAfterMs)
      else setImmediate(() => { this.answer() })
    }
    this.items.push(item)
    this.listeners.push(listener)
  }

  private answer (): void {
    const values = JSON.parse(JSON.stringify(this.items)) as unknown[]
    const listeners = this.listeners
    this.items = []
    this.listeners = []
    listeners.forEach((listener, i) => { listener.done(values[i]) })
  }
}

/** CPU seconds of this process's main thread and of its other threads. */
function threadSeconds (): { main: number, other: number } {
  const out = { main: 0, other: 0 }
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    out[Number(tid) === process.pid ? 'main' : 'other'] += (Number(fields[11]) + Number(fields[12])) / 100
  }
  return out
}

// journal rows posted to the writer (inserts and updates): what the writer thread's CPU follows
let journalRows = 0
const post = JournalWriter.prototype.write
JournalWriter.prototype.write = function (batch) {
  journalRows += batch.inserts + batch.updates
  post.call(this, batch)
}

const { values } = parseArgs({ options: { durable: { type: 'boolean', default: false }, seconds: { type: 'string', default: '10' }, 'answer-after-ms': { type: 'string', default: '0' } } })
TurnWorker.answerAfterMs = Number(values['answer-after-ms'])
const dir = await mkdtemp(join(tmpdir(), 'gridd-tasks-owner-path-'))
const module = join(dir, 'noop.mjs')
await writeFile(module, 'export default item => item\n')
const tasks = new Tasks('12D3KooWOwnerOwnerOwnerOwnerOwnerOwnerOwnerOwnerOwnerOw', { spawn: async () => new TurnWorker('task:noop'), capacity: () => 1, log: pino({ level: 'silent' }) },
  { minWorkers: 1, maxWorkers: 1, durable: values.durable, ...(TurnWorker.answerAfterMs > 0 ? { window: 1000 } : {}) }, { file: join(dir, 'tasks.sqlite'), prepare: async () => {} })
let stopped = false
try {
  await tasks.start()
  const wave = Array.from({ length: 1000 }, (_, n) => ({ n }))
  const run = async (): Promise<number> => (await Promise.all(wave.map(async item => await tasks.run(module, item)))).length
  for (const until = performance.now() + 1500; performance.now() < until;) await run()
  const t0 = performance.now()
  const before = threadSeconds()
  const rowsBefore = journalRows
  const cpu0 = process.cpuUsage()
  let done = 0
  while (performance.now() - t0 < Number(values.seconds) * 1000) done += await run()
  const after = threadSeconds()
  const rate = Math.round(done / ((performance.now() - t0) / 1000))
  // stopping writes what the journal still trails by; the process's usage keeps its thread's CPU after it ends
  await tasks.stop()
  stopped = true
  const cpu = process.cpuUsage(cpu0)
  const us = (s: number): string => (1e6 * s / done).toFixed(2)
  const rows = values.durable ? `, ${((journalRows - rowsBefore) / done).toFixed(2)} journal rows per task` : ''
  note(`${done} tasks, ${rate} tasks/s, journal ${values.durable ? 'on' : 'off'}${rows}: CPU per task ${us(after.main + after.other - before.main - before.other)} µs (main thread ${us(after.main - before.main)}, other threads ${us(after.other - before.other)}); with what the journal trailed by, written at the stop: ${us((cpu.user + cpu.system) / 1e6)} µs`)
} finally {
  if (!stopped) await tasks.stop()
  await rm(dir, { recursive: true, force: true })
}
