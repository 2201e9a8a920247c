import { describe, it, expect, afterEach, vi } from 'vitest'
import { existsSync } from 'node:fs'
import type { Tasks } from '../../../src/tasks/tasks.ts'
import type { TasksConfig } from '../../../src/tasks/config.ts'
import { Journal } from '../../../src/tasks/journal.ts'
import { JournalWriter } from '../../../src/tasks/journal-writer.ts'
import type { PackedBatch } from '../../../src/tasks/journal-batch.ts'
import { readJournal, unpack } from './journal-batches.ts'
import type { Written } from './journal-batches.ts'
import { ERR_JOURNAL, ERR_RESULT_TOO_LARGE, ResultTooLargeError } from '../../../src/errors.ts'
import { FakeWorker } from '../pipeline/fake-worker.ts'
import { SQUARE, journaledOwners, until } from './journaled-owners.ts'
import type { Behaviour } from '../pipeline/fake-worker.ts'

const square: Behaviour = item => (item as number) ** 2

const journal = journaledOwners('gridd-tasks-journal-')
afterEach(() => { vi.restoreAllMocks() })

/** An owner's tasks service on fake workers (answering with `behaviour`), journaling to `file`. */
async function owner (behaviour: Behaviour = 'hold' as never, config: Partial<TasksConfig> = {}): Promise<{ tasks: Tasks, workers: FakeWorker[] }> {
  const workers: FakeWorker[] = []
  const tasks = await journal.start(async () => { const w = new FakeWorker('task:square.mjs', behaviour); workers.push(w); return w }, { window: 2, ...config })
  return { tasks, workers }
}

const hold: Behaviour = () => 'hold'

/** The batches the recorder posts to its writer thread, as they were posted (read before the thread takes their buffers). */
function posted (): Array<ReturnType<typeof unpack>> {
  const batches: Array<ReturnType<typeof unpack>> = []
  const write = JournalWriter.prototype.write
  vi.spyOn(JournalWriter.prototype, 'write').mockImplementation(function (this: JournalWriter, batch: PackedBatch) {
    batches.push(unpack(batch))
    write.call(this, batch)
  })
  return batches
}

function rows (): ReturnType<Journal['load']> {
  return readJournal(journal.file)
}

describe('Tasks with a journal: restart', () => {
  it('a restarted owner serves finished results, queues unfinished ones again (an attempt in flight excused: the restart is not its doing), and runs none that finished', async () => {
    const first = await owner(hold)
    const session = first.tasks.session({ name: 'batch', maxRetries: 1 })
    const handles = [0, 1, 2, 3, 4].map(n => session.submit(SQUARE, n, n === 3 ? { maxRetries: 0 } : {}))
    await until(() => first.workers[0]?.held.length === 2)
    first.workers[0]!.release(0)
    first.workers[0]!.release(1)
    // 2 and 3 are then in flight, 4 waits
    await until(() => handles[3]!.status === 'dispatched')
    await journal.stop(first.tasks)

    const second = await owner(hold)
    const resumed = second.tasks.getSession(session.id)!
    expect(resumed.name).toBe('batch')
    expect(await second.tasks.getTask(handles[0]!.id)!.result()).toBe(0)
    expect(await second.tasks.getTask(handles[1]!.id)!.result()).toBe(1)
    // both in flight run again, the one on its only attempt (maxRetries 0) too: its owner's restart used none of its retries
    await until(() => second.workers[0]?.held.length === 2)
    expect(second.workers[0]!.seen).toEqual([2, 3])
    expect(second.tasks.getTask(handles[2]!.id)!.info()).toMatchObject({ status: 'dispatched', attempts: 2 })
    expect(second.tasks.getTask(handles[3]!.id)!.info()).toMatchObject({ status: 'dispatched', attempts: 2 })
    second.workers[0]!.release(4)
    second.workers[0]!.release(9)
    await until(() => second.workers.some(w => w.held.length === 1))
    second.workers.find(w => w.held.length === 1)!.release(16)
    expect(await Promise.all([2, 3, 4].map(async n => await second.tasks.getTask(handles[n]!.id)!.result()))).toEqual([4, 9, 16])
    expect(resumed.counts()).toMatchObject({ completed: 5, failed: 0, queued: 0, dispatched: 0, retries: 2 })

    // closed and done: the session's rows go
    resumed.close()
    await resumed.done
    await journal.stop(second.tasks)
    expect(rows()).toEqual({ sessions: [], tasks: [], unreadable: 0 })
  })

  it('cancelling a task resumed before its name is registered again reaches its running attempt', async () => {
    const first = await owner(hold)
    first.tasks.register('square', SQUARE)
    const handle = first.tasks.submit('square', 3)
    await until(() => first.workers[0]?.held.length === 1)
    await journal.stop(first.tasks)
    // restarted, 'square' not registered (yet): the task is queued again by the module path it was journaled with
    const second = await owner(hold, { cancelGraceMs: 20 })
    const resumed = second.tasks.getTask(handle.id)!
    await until(() => second.workers[0]?.held.length === 1)
    resumed.cancel('enough')
    await expect(resumed.result()).rejects.toMatchObject({ code: 'ERR_TASK_CANCELLED' })
    // the attempt keeps running on its worker (the fake ignores its signal): the grace ends with a kill
    await until(() => second.workers[0]!.killed != null)
  })

  /** It was given the restart's time: listings sorted newest first (the overview, the dashboard) moved it up. */
  it('a session resumed keeps the time it was opened', async () => {
    const first = await owner(hold)
    const session = first.tasks.session({ name: 'older' })
    session.submit(SQUARE, 1)
    await new Promise(resolve => setTimeout(resolve, 50))
    await journal.stop(first.tasks)

    const second = await owner(hold)
    expect(second.tasks.getSession(session.id)!.createdAt).toBe(session.createdAt)
    expect(second.tasks.overview().sessions.find(s => s.id === session.id)?.createdAt).toBe(session.createdAt)
  })

  it('a session closed before the crash finishes its tasks after the restart, then is dropped with its rows', async () => {
    const first = await owner(hold)
    const session = first.tasks.session({ name: 'closing' })
    const handle = session.submit(SQUARE, 5)
    session.close()
    await until(() => handle.status === 'dispatched')
    await journal.stop(first.tasks)

    const second = await owner(square)
    const resumed = second.tasks.getSession(session.id)!
    expect(resumed.isClosed).toBe(true)
    await resumed.done
    expect(second.tasks.getSession(session.id)).toBeUndefined()
    await journal.stop(second.tasks)
    expect(rows().tasks).toEqual([])
  })

  it('the default session stays open after a restart even where the journal says closed (an API cancel once closed it), and the row is mended', async () => {
    const first = await owner(square)
    expect(await first.tasks.submit(SQUARE, 2).result()).toBe(4)
    // what DELETE /v1/sessions/<node>%2Fs-default used to do
    first.tasks.getSession('owner/s-default')!.close()
    await journal.stop(first.tasks)
    expect(rows().sessions).toMatchObject([{ id: 'owner/s-default', closed: true }])

    const second = await owner(square)
    expect(second.tasks.getSession('owner/s-default')!.isClosed).toBe(false)
    expect(await second.tasks.submit(SQUARE, 3).result()).toBe(9)
    await journal.stop(second.tasks)
    expect(rows().sessions).toMatchObject([{ id: 'owner/s-default', closed: false }])
  })

  it('results past resultTtlMs are not served after a restart, and their rows are deleted', async () => {
    const first = await owner(square, { resultTtlMs: 50 })
    const handle = first.tasks.submit(SQUARE, 3)
    expect(await handle.result()).toBe(9)
    await journal.stop(first.tasks)
    // let the result's time to live pass
    await new Promise(resolve => setTimeout(resolve, 80))
    const second = await owner(square, { resultTtlMs: 50 })
    expect(second.tasks.getTask(handle.id)).toBeUndefined()
    await journal.stop(second.tasks)
    expect(rows().tasks).toEqual([])
  })
})

describe('Tasks with a journal: writes', () => {
  it('batches: 200 tasks submitted and finished at once cost a few transactions, not one per change', async () => {
    const batches = posted()
    const { tasks } = await owner(square)
    expect(existsSync(journal.file)).toBe(false)
    const handles = Array.from({ length: 200 }, (_, n) => tasks.submit(SQUARE, n))
    await Promise.all(handles.map(async h => await h.result()))
    await journal.stop(tasks)
    expect(batches.length).toBeGreaterThan(0)
    expect(batches.length).toBeLessThanOrEqual(10)
    // a dispatch followed by the end within a flush window is not written on its own
    expect(batches.flatMap(b => b.updated).filter(c => c.status === 'dispatched')).toEqual([])
    const left = rows()
    expect(left.tasks.length).toBe(200)
    expect(left.tasks.every(t => t.status === 'completed' && t.attempts === 1)).toBe(true)
    expect(left.tasks.map(t => JSON.parse(t.result!) as number)).toEqual(handles.map((_, n) => n * n))
  })

  it('an attempt still in flight is written within two flushes (a restart then knows it was lost)', async () => {
    const batches = posted()
    const { tasks } = await owner(hold)
    const handle = tasks.submit(SQUARE, 1)
    const written = (): Written[] => batches.flatMap(b => [...b.inserted, ...b.updated])
    // with its insert if it was dispatched by then, else on its own once in flight past a flush
    await until(() => handle.status === 'dispatched' && written().some(c => c.status === 'dispatched' && c.attempts === 1))
  })

  it('a result over maxResultBytes fails its task with ResultTooLargeError, journaled so, and kept so after a restart', async () => {
    const big: Behaviour = () => 'x'.repeat(200)
    const first = await owner(big, { maxResultBytes: 100 })
    const handle = first.tasks.submit(SQUARE, 1)
    const err = await handle.result().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ResultTooLargeError)
    expect(err).toMatchObject({ code: ERR_RESULT_TOO_LARGE })
    expect(handle.info().error).toMatchObject({ code: ERR_RESULT_TOO_LARGE, message: expect.stringContaining('202 bytes') })
    await journal.stop(first.tasks)
    expect(rows().tasks[0]).toMatchObject({ status: 'failed', result: null })
    const second = await owner(big, { maxResultBytes: 100 })
    await expect(second.tasks.getTask(handle.id)!.result()).rejects.toMatchObject({ code: ERR_RESULT_TOO_LARGE, cause: { message: expect.stringContaining('202 bytes') } })
  })

  it('a node that owns no task creates no journal; one that cannot use its journal does not start', async () => {
    const idle = await owner(square)
    await journal.stop(idle.tasks)
    expect(existsSync(journal.file)).toBe(false)
    const holder = Journal.open(journal.file)
    try {
      await expect(owner(square)).rejects.toMatchObject({ code: ERR_JOURNAL })
    } finally {
      holder.close()
    }
  })

  it('durable: false writes nothing, and still caps results', async () => {
    const { tasks } = await owner(square, { durable: false, maxResultBytes: 4 })
    expect(await tasks.submit(SQUARE, 9).result()).toBe(81)
    await expect(tasks.submit(SQUARE, 1000).result()).rejects.toMatchObject({ code: ERR_RESULT_TOO_LARGE })
    const session = tasks.session({ name: 'x' })
    session.close()
    await journal.stop(tasks)
    expect(existsSync(journal.file)).toBe(false)
  })

  it('a task whose input JSON cannot hold fails before it runs', async () => {
    const { tasks, workers } = await owner(square)
    await expect(tasks.submit(SQUARE, 10n).result()).rejects.toMatchObject({ message: expect.stringContaining('cannot be journaled as JSON') })
    expect(workers.flatMap(w => w.seen)).toEqual([])
  })
})
