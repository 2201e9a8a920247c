import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { JournalRecorder } from '../../../src/tasks/journal-recorder.ts'
import type { RecorderOptions } from '../../../src/tasks/journal-recorder.ts'
import type { PackedBatch } from '../../../src/tasks/journal-batch.ts'
import { JournalWriter } from '../../../src/tasks/journal-writer.ts'
import type { StartWriter, Writer, WriterEvents } from '../../../src/tasks/journal-writer.ts'
import { JOURNAL_FILE } from '../../../src/tasks/journal.ts'
import { Session } from '../../../src/tasks/session.ts'
import type { Task } from '../../../src/tasks/task.ts'
import { readJournal, unpack } from './journal-batches.ts'

let dir: string
let file: string
const recorders: JournalRecorder[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gridd-journal-recorder-'))
  file = join(dir, JOURNAL_FILE)
})

afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(recorders.splice(0).map(async r => { await r.close() }))
  await rm(dir, { recursive: true, force: true })
})

/** A writer stub (the writer thread is tested on its own): it keeps what it is given and writes a batch only when the test says. */
class HeldWriter implements Writer {
  readonly nextRowid = 1
  readonly batches: Array<ReturnType<typeof unpack>> = []
  written = 0
  closed = false
  events?: WriterEvents
  readonly start: StartWriter = async (_file, events) => {
    this.events = events
    return { writer: this, contents: { sessions: [], tasks: [], unreadable: 0 } }
  }

  get inFlight (): number {
    return this.batches.length - this.written
  }

  write (batch: PackedBatch): void {
    this.batches.push(unpack(batch))
  }

  /** The oldest batch not yet written is. */
  writeOne (): void {
    this.written++
    this.events!.written()
  }

  async close (): Promise<number> {
    this.closed = true
    return this.inFlight
  }

  async terminate (): Promise<void> {}
}

interface Logged { level: string, msg: string }

/** A recorder, and a session whose tasks it follows as the tasks service has it do. */
function setUp (options: Partial<RecorderOptions> = {}): { recorder: JournalRecorder, session: Session, submit: (n: number) => Task, logged: Logged[] } {
  const logged: Logged[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => { const { level, msg } = JSON.parse(line) as { level: number, msg: string }; logged.push({ level: pino.levels.labels[level]!, msg }) } })
  const recorder = new JournalRecorder({ file, prepare: async () => {}, maxResultBytes: 1024, log, ...options })
  recorders.push(recorder)
  const session = new Session('owner', { name: 'batch' }, {
    enqueue: task => { recorder.submitted(task, session, '/srv/square.mjs', undefined) },
    cancel: () => {},
    changed: task => { recorder.statusChanged(task) }
  })
  recorder.session(session)
  return { recorder, session, submit: n => session.submit('square.mjs', n), logged }
}

async function until (check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 2))
  expect(check()).toBe(true)
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('JournalRecorder', () => {
  it('the periodic forget on a journal never opened starts no writer (an idle node has no thread and no file); once a session is written, it does', async () => {
    const writer = new HeldWriter()
    const log = pino({ level: 'silent' })
    const recorder = new JournalRecorder({ file, prepare: async () => {}, maxResultBytes: 1024, log, startWriter: writer.start, flushEveryMs: 1 })
    recorders.push(recorder)
    recorder.forget(Date.now())
    await sleep(30)
    expect(writer.events).toBeUndefined()
    recorder.session(new Session('owner', { name: 'first' }, { enqueue: () => {}, cancel: () => {}, changed: () => {} }))
    await until(() => writer.events != null)
  })

  it('posts at most maxInFlight batches to a writer that is behind; changes merge meanwhile (a task once, as it is last), and go as soon as it writes one', async () => {
    const writer = new HeldWriter()
    const { recorder, submit } = setUp({ startWriter: writer.start, maxInFlight: 2, flushEveryMs: 5 })
    const first = [1, 2, 3].map(submit)
    await until(() => writer.batches.length === 1)
    for (const task of first) task.mark('dispatched')
    await until(() => writer.batches.length === 2)
    // the writer is now 2 batches behind: nothing more is posted, however many windows pass
    const later = [4, 5].map(submit)
    for (const task of [...first, ...later]) task.mark('dispatched')
    for (const task of [...first, ...later]) task.complete(0)
    // 20 flush windows: long enough for a third batch to have gone out had there been no bound
    await sleep(100)
    expect(writer.batches.length).toBe(2)
    writer.writeOne()
    await until(() => writer.batches.length === 3)
    const third = writer.batches[2]!
    // each task once, as it is now: the new ones inserted completed, the others updated
    expect(third.inserted.map(t => [t.rowid, t.status, t.attempts, t.result])).toEqual([[4, 'completed', 1, '0'], [5, 'completed', 1, '0']])
    expect(third.updated.map(t => [t.rowid, t.status])).toEqual([[1, 'completed'], [2, 'completed'], [3, 'completed']])
    // closing posts what is left even past the bound, then waits for the writer
    const last = submit(6)
    expect(writer.inFlight).toBe(2)
    await recorder.close()
    expect(writer.closed).toBe(true)
    expect(writer.batches[3]!.inserted.map(t => [t.rowid, t.status])).toEqual([[6, last.status]])
  })

  it('inserts a new task one flush after it came, as it is then: one that ended by then is one row, no update', async () => {
    const writer = new HeldWriter()
    const { recorder, submit } = setUp({ startWriter: writer.start, flushEveryMs: 60_000 })
    const quick = submit(1)
    const slow = submit(2)
    // the first flush after they came: the session, not them yet
    await recorder.flush()
    expect(writer.batches.map(b => b.inserted.length)).toEqual([0])
    for (const task of [quick, slow]) task.mark('dispatched')
    quick.complete(1)
    writer.writeOne()
    await recorder.flush()
    expect(writer.batches[1]!.inserted.map(t => [t.rowid, t.status, t.attempts, t.result])).toEqual([[1, 'completed', 1, '1'], [2, 'dispatched', 1, null]])
    expect(writer.batches[1]!.updated).toEqual([])
    // the one still in flight is updated when it ends
    slow.complete(4)
    writer.writeOne()
    await recorder.flush()
    expect(writer.batches[2]!.updated.map(t => [t.rowid, t.status, t.result])).toEqual([[2, 'completed', '4']])
    expect(writer.batches[2]!.inserted).toEqual([])
  })

  it('a flush held back by a busy writer leaves no new task waiting for another: the next batch inserts all that came', async () => {
    const writer = new HeldWriter()
    const { recorder, submit } = setUp({ startWriter: writer.start, flushEveryMs: 60_000, maxInFlight: 1 })
    await recorder.flush()
    const early = submit(1)
    // the writer is behind (the session's batch not written): held back
    await recorder.flush()
    const late = submit(2)
    expect(writer.batches.length).toBe(1)
    writer.writeOne()
    await until(() => writer.batches.length === 2)
    expect(writer.batches[1]!.inserted.map(t => t.id)).toEqual([early.id, late.id])
  })

  it('a session dropped while its tasks wait for their insert: they are not written (nor is anything of it)', async () => {
    const writer = new HeldWriter()
    const { recorder, session, submit } = setUp({ startWriter: writer.start, flushEveryMs: 60_000 })
    const task = submit(1)
    await recorder.flush()
    task.mark('dispatched')
    task.complete(1)
    recorder.sessionDropped(session.id)
    writer.writeOne()
    await recorder.flush()
    expect(writer.batches.map(b => b.inserted.length + b.updated.length)).toEqual([0, 0])
    const other = submit(2)
    await recorder.close()
    expect(writer.batches.flatMap(b => b.inserted.map(t => t.id))).toEqual([other.id])
  })

  it('a failed write is logged (rate-limited) and the writer thread dying stops recording, logged as an error', async () => {
    const writer = new HeldWriter()
    const { submit, logged } = setUp({ startWriter: writer.start, flushEveryMs: 5 })
    submit(1)
    await until(() => writer.batches.length === 1)
    writer.events!.failed(new Error('disk I/O error'))
    writer.events!.failed(new Error('disk I/O error'))
    expect(logged.filter(l => l.msg.includes('write failed'))).toEqual([{ level: 'warn', msg: 'task journal write failed: trying again' }])
    writer.events!.lost(new Error('the writer thread exited (code 1)'))
    expect(logged.at(-1)).toEqual({ level: 'error', msg: 'task journal writer stopped: tasks are no longer durable' })
    submit(2)
    // 20 flush windows: a batch would have been posted by then
    await sleep(100)
    expect(writer.batches.length).toBe(1)
  })

  it('closing writes what is pending through the writer thread, attempts in flight included, and waits for it', async () => {
    const { recorder, submit } = setUp({ flushEveryMs: 60_000 })
    const done = submit(1)
    const inFlight = submit(2)
    const queued = submit(3)
    await recorder.flush()
    done.mark('dispatched')
    done.complete(1)
    inFlight.mark('dispatched')
    // within the window (a minute): only closing writes these
    await recorder.close()
    expect(readJournal(file).tasks.map(t => [t.id, t.status, t.attempts, t.result])).toEqual([[done.id, 'completed', 1, '1'], [inFlight.id, 'dispatched', 1, null], [queued.id, 'queued', 0, null]])
  })
})

describe('JournalRecorder with its writer thread', () => {
  it('keeps writing while it runs: the thread answers each batch, so more than maxInFlight of them go out before closing', async () => {
    const writes = vi.spyOn(JournalWriter.prototype, 'write')
    const { recorder, submit } = setUp({ flushEveryMs: 5, maxInFlight: 2 })
    const tasks = [submit(0)]
    // the thread is started by the first write
    await until(() => writes.mock.calls.length === 1)
    // then a task every ~2 windows: each its own batch, as long as the thread keeps answering (bounded: 200 tasks)
    while (writes.mock.calls.length < 5 && tasks.length < 200) {
      tasks.push(submit(tasks.length))
      await sleep(10)
    }
    expect(writes.mock.calls.length).toBeGreaterThanOrEqual(5)
    await recorder.close()
    expect(readJournal(file).tasks.map(t => t.id)).toEqual(tasks.map(t => t.id))
  })
})
