import { describe, it, expect } from 'vitest'
import { DatabaseSync } from 'node:sqlite'
import type { Tasks } from '../../../src/tasks/tasks.ts'
import type { Task } from '../../../src/tasks/task.ts'
import { Journal } from '../../../src/tasks/journal.ts'
import { EXCUSED_LOSSES } from '../../../src/owner/worker-handle.ts'
import { ERR_TASK_LOST } from '../../../src/errors.ts'
import { pack, readJournal } from './journal-batches.ts'
import type { NewRow } from './journal-batches.ts'
import { FakeWorker } from '../pipeline/fake-worker.ts'
import { SQUARE, journaledOwners, until } from './journaled-owners.ts'

/**
 * What counts against a task's maxRetries survives its owner's restart: seen in review, the journal kept only
 * `attempts`, so a restored task counted every loss, the excused ones too (its agents drained), and one in
 * flight at the restart failed at once with TaskLostError if that attempt was its last.
 */

const journal = journaledOwners('gridd-journal-losses-')

interface Owner { tasks: Tasks, workers: FakeWorker[], room: { on: boolean } }

/** An owner's tasks service on fake workers that hold what they get, journaling to `file`; `room.on = false`: no worker can be had. */
async function owner (): Promise<Owner> {
  const workers: FakeWorker[] = []
  const room = { on: true }
  const tasks = await journal.start(async () => {
    if (!room.on) throw new Error('no agent has room')
    const w = new FakeWorker('task:square.mjs', () => 'hold')
    workers.push(w)
    return w
  }, { window: 1 })
  return { tasks, workers, room }
}

/** The worker holding a task now (window 1: each runs alone, so a crash is its own). */
function holder (o: Owner): FakeWorker | undefined {
  return o.workers.find(w => w.held.length > 0)
}

function counters (task: Task): object {
  return { status: task.status, countedLosses: task.countedLosses, excusedLosses: task.excusedLosses }
}

describe('Tasks with a journal: losses counted against maxRetries, across a restart', () => {
  it(`a task with ${EXCUSED_LOSSES} excused losses (its agents stopped its workers) and maxRetries 2 still has its 2 retries after a restart`, async () => {
    const first = await owner()
    const handle = first.tasks.submit(SQUARE, 7, { maxRetries: 2 })
    for (let i = 0; i < EXCUSED_LOSSES; i++) {
      await until(() => holder(first) != null)
      // the last one finds no agent with room: it waits queued, as after a rolling restart of the agents
      if (i === EXCUSED_LOSSES - 1) first.room.on = false
      holder(first)!.stop()
    }
    await until(() => handle.status === 'queued')
    expect(counters(handle)).toEqual({ status: 'queued', countedLosses: 0, excusedLosses: EXCUSED_LOSSES })
    await journal.stop(first.tasks)
    expect(readJournal(journal.file).tasks).toMatchObject([{ status: 'queued', attempts: EXCUSED_LOSSES, countedLosses: 0, excusedLosses: EXCUSED_LOSSES }])

    const second = await owner()
    const resumed = second.tasks.getTask(handle.id)!
    expect(counters(resumed)).toEqual({ status: 'queued', countedLosses: 0, excusedLosses: EXCUSED_LOSSES })
    // two crashes its own: each a retry
    for (let i = 0; i < 2; i++) {
      await until(() => holder(second) != null)
      holder(second)!.crash()
      await until(() => resumed.countedLosses === i + 1)
      expect(resumed.final).toBe(false)
    }
    // the third is one too many
    await until(() => holder(second) != null)
    holder(second)!.crash()
    await expect(resumed.result()).rejects.toMatchObject({ code: ERR_TASK_LOST })
    expect(resumed.attempts).toBe(EXCUSED_LOSSES + 3)
  })

  it('a task in flight when its owner restarts is queued again, not failed, even on its last attempt (maxRetries 0); the loss is excused and journaled', async () => {
    const first = await owner()
    const handle = first.tasks.submit(SQUARE, 3, { maxRetries: 0 })
    await until(() => holder(first) != null)
    await journal.stop(first.tasks)
    expect(readJournal(journal.file).tasks).toMatchObject([{ status: 'dispatched', attempts: 1, countedLosses: 0, excusedLosses: 0 }])

    const second = await owner()
    const resumed = second.tasks.getTask(handle.id)!
    expect(counters(resumed)).toMatchObject({ countedLosses: 0, excusedLosses: 1 })
    await until(() => holder(second) != null)
    holder(second)!.release(9)
    expect(await resumed.result()).toBe(9)
    expect(resumed.attempts).toBe(2)
    await journal.stop(second.tasks)
    expect(readJournal(journal.file).tasks).toMatchObject([{ status: 'completed', attempts: 2, countedLosses: 0, excusedLosses: 1 }])
  })

  it(`restarts under it are excused ${EXCUSED_LOSSES} times at most (it may be what brings its owner down), then count: maxRetries 0 then fails it as lost`, async () => {
    let handleId = ''
    for (let restart = 0; restart <= EXCUSED_LOSSES; restart++) {
      const o = await owner()
      if (restart === 0) handleId = o.tasks.submit(SQUARE, 3, { maxRetries: 0 }).id
      const task = o.tasks.getTask(handleId)!
      expect(task.excusedLosses).toBe(restart)
      await until(() => holder(o) != null)
      await journal.stop(o.tasks)
    }
    const last = await owner()
    await expect(last.tasks.getTask(handleId)!.result()).rejects.toMatchObject({ code: ERR_TASK_LOST })
    expect(last.workers).toHaveLength(0)
    await journal.stop(last.tasks)
    expect(readJournal(journal.file).tasks).toMatchObject([{ status: 'failed', attempts: EXCUSED_LOSSES + 1, countedLosses: 1, excusedLosses: EXCUSED_LOSSES + 1 }])
  })

  it('a journal from before the loss columns opens (they are added) and restores as before: every attempt that ended counts', async () => {
    // written as an older gridd wrote it: the rows, then the columns taken out again
    const j = Journal.open(journal.file)
    const row = (id: string, over: Partial<NewRow>): NewRow => ({
      id: `owner/${id}`, session: 'owner/s-default', module: SQUARE, path: SQUARE, input: '3', resources: null, priority: 0, maxRetries: 2,
      status: 'queued', attempts: 0, submittedAt: Date.now(), error: null, result: null, ...over
    })
    j.commit(pack({
      sessions: [{ id: 'owner/s-default', name: 'default', maxRetries: 2, priority: 0, closed: false, createdAt: Date.now() }],
      newTasks: [row('t-queued', { attempts: 2 }), row('t-in-flight', { input: '4', status: 'dispatched', attempts: 3, agent: 'A' })]
    }))
    j.close()
    const db = new DatabaseSync(journal.file)
    db.exec('ALTER TABLE tasks DROP COLUMN counted_losses; ALTER TABLE tasks DROP COLUMN excused_losses')
    db.close()

    const o = await owner()
    o.room.on = false
    const queued = o.tasks.getTask('owner/t-queued')!
    const inFlight = o.tasks.getTask('owner/t-in-flight')!
    // both lost attempts counted; of the one in flight, the two that ended, and its owner's restart excused
    expect(counters(queued)).toEqual({ status: 'queued', countedLosses: 2, excusedLosses: 0 })
    expect(counters(inFlight)).toEqual({ status: 'queued', countedLosses: 2, excusedLosses: 1 })
    await journal.stop(o.tasks)
    const check = new DatabaseSync(journal.file)
    const columns = check.prepare('PRAGMA table_info(tasks)').all().map(c => c.name)
    check.close()
    expect(columns).toEqual(expect.arrayContaining(['counted_losses', 'excused_losses']))
    expect(readJournal(journal.file).tasks).toMatchObject([
      { id: 'owner/t-queued', attempts: 2 },
      { id: 'owner/t-in-flight', status: 'queued', attempts: 3, countedLosses: 2, excusedLosses: 1 }
    ])
    // a row the restart did not change keeps no counters: read again, it is still restored from its attempts
    expect(readJournal(journal.file).tasks[0]!.countedLosses).toBeUndefined()

    // as before, a queued task with its retries used fails at its next crash
    const again = await owner()
    const task = again.tasks.getTask('owner/t-queued')!
    expect(task.countedLosses).toBe(2)
    const running = (): FakeWorker | undefined => again.workers.find(w => w.held[0]?.item === 3)
    await until(() => running() != null)
    running()!.crash()
    await expect(task.result()).rejects.toMatchObject({ code: ERR_TASK_LOST })
  })
})
