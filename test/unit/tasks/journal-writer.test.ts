import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JOURNAL_FILE } from '../../../src/tasks/journal.ts'
import type { SessionRow } from '../../../src/tasks/journal.ts'
import { JournalWriter } from '../../../src/tasks/journal-writer.ts'
import type { WriterEvents } from '../../../src/tasks/journal-writer.ts'
import { ERR_JOURNAL, JournalError } from '../../../src/errors.ts'
import { pack, readJournal } from './journal-batches.ts'
import type { NewRow } from './journal-batches.ts'

let dir: string
let file: string
const writers: JournalWriter[] = []

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gridd-journal-writer-'))
  file = join(dir, JOURNAL_FILE)
})

afterEach(async () => {
  await Promise.all(writers.splice(0).map(async w => { await w.terminate() }))
  await rm(dir, { recursive: true, force: true })
})

const session: SessionRow = { id: 'o/s-1', name: 'batch', maxRetries: 2, priority: 0, closed: false, createdAt: 1000 }
const task = (id: string, over: Partial<NewRow> = {}): NewRow => ({
  id, session: 'o/s-1', module: 'square.mjs', path: '/srv/square.mjs', input: '7', resources: null, priority: 0, maxRetries: 2,
  status: 'queued', attempts: 0, submittedAt: 2000, error: null, result: null, ...over
})

/** What the writer reports, as lists. */
function listen (): WriterEvents & { writes: number, failures: unknown[], losses: unknown[] } {
  const seen = {
    writes: 0,
    failures: [] as unknown[],
    losses: [] as unknown[],
    written: () => { seen.writes++ },
    failed: (err: unknown) => { seen.failures.push(err) },
    lost: (err: unknown) => { seen.losses.push(err) }
  }
  return seen
}

async function start (events: WriterEvents, retryAfterMs?: number): Promise<Awaited<ReturnType<typeof JournalWriter.start>>> {
  const started = await JournalWriter.start(file, events, retryAfterMs)
  writers.push(started.writer)
  return started
}

async function until (check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  expect(check()).toBe(true)
}


describe('JournalWriter (the writer thread)', () => {
  it('writes batches in order in its thread; close waits for every one (the shutdown flush), then lets the file go', async () => {
    const events = listen()
    const { writer, contents } = await start(events)
    expect(contents).toEqual({ sessions: [], tasks: [], unreadable: 0 })
    expect(writer.nextRowid).toBe(1)
    writer.write(pack({ sessions: [session], newTasks: [task('o/t-1'), task('o/t-2')] }))
    // the second updates a row the first inserts: order matters
    writer.write(pack({ changedTasks: [{ rowid: 2, status: 'completed', attempts: 1, agent: 'A', startedAt: 2100, endedAt: 2200, error: null, result: '49' }] }))
    expect(writer.inFlight).toBe(2)
    expect(await writer.close()).toBe(0)
    expect(writer.inFlight).toBe(0)
    // closed: the lock is released, and both batches are there
    const back = readJournal(file)
    expect(back.tasks.map(t => [t.rowid, t.id, t.status, t.result])).toEqual([[1, 'o/t-1', 'queued', null], [2, 'o/t-2', 'completed', '49']])
  })

  it('reads back what the file holds and numbers new rows after it; refuses a journal in use (JournalError)', async () => {
    const first = await start(listen())
    first.writer.write(pack({ sessions: [session], newTasks: [task('o/t-1'), task('o/t-2')] }))
    // a second writer on the same file, while the first holds it: two owners must not resume the same tasks
    const err = await JournalWriter.start(file, listen()).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(JournalError)
    expect(err).toMatchObject({ code: ERR_JOURNAL, path: file, message: expect.stringContaining('in use by another process') })
    // moving the file aside, the advice for a damaged one, would take it from under the node that holds it
    expect((err as Error).message).toMatch(/each node needs a data dir of its own: stop the other node, or give this one another --data-dir/)
    expect((err as Error).message).not.toMatch(/move it aside/)
    await first.writer.close()
    const again = await start(listen())
    expect(again.contents.tasks.map(t => t.id)).toEqual(['o/t-1', 'o/t-2'])
    expect(again.writer.nextRowid).toBe(3)
  })

  it('a failed batch is reported and tried again, and those behind it wait; closing tries once more and counts what it could not write', async () => {
    const events = listen()
    const { writer } = await start(events, 20)
    writer.write(pack({ sessions: [session] }))
    await until(() => events.writes === 1)
    // a task of a session never journaled: refused by the journal (JournalError) on every try
    writer.write(pack({ newTasks: [task('o/t-9', { session: 'o/s-unknown' })] }, 1))
    writer.write(pack({ newTasks: [task('o/t-2')] }, 2))
    await until(() => events.failures.length >= 2)
    expect(events.failures[0]).toMatchObject({ message: expect.stringContaining('o/s-unknown') })
    expect(events.writes).toBe(1)
    expect(writer.inFlight).toBe(2)
    expect(await writer.close()).toBe(2)
    expect(events.losses).toEqual([])
    expect(readJournal(file)).toEqual({ sessions: [session], tasks: [], unreadable: 0 })
  })
})
