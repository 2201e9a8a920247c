import { describe, it, expect, afterEach } from 'vitest'
import type { Tasks } from '../../../src/tasks/tasks.ts'
import type { TasksService } from '../../../src/tasks/service.ts'
import type { TasksReply } from '../../../src/tasks/protocol-schema.ts'
import { ERR_NODE_STOPPED } from '../../../src/errors.ts'
import { FakeWorker } from '../pipeline/fake-worker.ts'
import { SQUARE, journaledOwners, memberService, until } from './journaled-owners.ts'

/**
 * A task whose worker answers while its durable owner stops gracefully: what its local handle and a remote wait
 * are told, and what the journal holds at the next start, must agree. The real Tasks, journal recorder, writer
 * thread and SQLite file; the workers are the test's (their answer is timed to the stop: in a real process the
 * window, the writer thread's last write and close, is a few milliseconds wide and cannot be hit at will).
 */
const journal = journaledOwners('gridd-tasks-stop-race-')
const member = 'member-peer'
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const cleanup of cleanups.splice(0)) await cleanup() })

interface Owner { tasks: Tasks, workers: FakeWorker[], svc: TasksService }

/**
 * An owner on the test's journal, its workers holding every task until the test answers; `member` may submit and
 * wait. `prepare`: what its journal awaits before it opens the file.
 */
async function owner (prepare?: () => Promise<void>): Promise<Owner> {
  const workers: FakeWorker[] = []
  const tasks = await journal.start(async () => { const w = new FakeWorker('task:square.mjs', () => 'hold'); workers.push(w); return w }, {}, prepare)
  tasks.register('sq', SQUARE)
  const svc = await memberService(tasks, member, cleanups)
  return { tasks, workers, svc }
}

/** The journal file made by an earlier owner: the next one opens it as it starts, so its stop writes its last batch at once. */
async function journalMade (): Promise<void> {
  const first = await owner()
  const done = first.tasks.run(SQUARE, 1)
  await until(() => first.workers[0]?.held.length === 1)
  first.workers[0]!.release(1)
  expect(await done).toBe(1)
  await journal.stop(first.tasks)
}

type Told = { value: unknown } | { code: unknown }

/**
 * Submits `sq 3` (a member, over the tasks protocol), holds a wait on it there and its local handle, and once its
 * worker holds it stops the owner while `answer` answers for the worker: what each was told.
 */
async function answeredAsItStops (answer: (worker: FakeWorker) => void, stopFirst = true): Promise<{ id: string, local: Told, remote: TasksReply }> {
  await journalMade()
  const { tasks, workers, svc } = await owner()
  const submitted = await svc.serve(member, { op: 'submit', module: { kind: 'name', name: 'sq' }, input: 3 })
  if (!submitted.ok) throw new Error(`submit failed: ${JSON.stringify(submitted)}`)
  const id = submitted.id!
  const local = tasks.getTask(id)!.result().then(value => ({ value }), (err: { code?: unknown }) => ({ code: err.code }))
  const remote = svc.serve(member, { op: 'wait', id, timeoutMs: 60_000 })
  await until(() => workers[0]?.held.length === 1)
  let stopping: Promise<void>
  if (stopFirst) {
    stopping = journal.stop(tasks)
    answer(workers[0]!)
  } else {
    answer(workers[0]!)
    await until(() => tasks.getTask(id)!.final)
    stopping = journal.stop(tasks)
  }
  await stopping
  return { id, local: await local, remote: await remote }
}

/** Starts the next owner on the journal: the task as it holds it, and how often that owner's workers ran it. */
async function restarted (id: string): Promise<{ next: Owner, status: string | undefined, runs: () => number }> {
  const next = await owner()
  return { next, status: next.tasks.getTask(id)?.status, runs: () => next.workers.reduce((n, w) => n + w.seen.filter(input => input === 3).length, 0) }
}

const notFinal = { ok: false, error: { code: ERR_NODE_STOPPED, retryable: true } }

describe('a task whose worker answers while its owner stops gracefully', () => {
  /**
   * The answer came after the stop's last journal batch: the task completed in this process (its handle
   * resolved 9, the wait answered completed) while the journal still held it dispatched, and the next start ran it again.
   */
  it('a result: nobody is told it completed, and the next start runs it (once more, then it completes)', async () => {
    const { id, local, remote } = await answeredAsItStops(worker => { worker.release(9) })
    expect(local).toEqual({ code: ERR_NODE_STOPPED })
    expect(remote).toMatchObject(notFinal)

    const { next, status, runs } = await restarted(id)
    expect(status).toMatch(/^(queued|dispatched)$/)
    await until(() => next.workers[0]?.held.length === 1)
    next.workers[0]!.release(9)
    expect(await next.tasks.getTask(id)!.result()).toBe(9)
    expect(runs()).toBe(1)
  })

  /** Its handle rejected with the task's own failure (ERR_TASK_FAILED), for good, while the journal held it dispatched and the next start ran it. */
  it('a failure: the local handle is told the task has not ended, as the wait is; the next start runs it', async () => {
    const { id, local, remote } = await answeredAsItStops(worker => { worker.held.shift()!.reject(new RangeError('no good')) })
    expect(local).toEqual({ code: ERR_NODE_STOPPED })
    expect(remote).toMatchObject(notFinal)

    const { next, status, runs } = await restarted(id)
    expect(status).toMatch(/^(queued|dispatched)$/)
    await until(() => runs() === 1)
  })

  it('a result that came before the stop is journaled with the stop\'s last batch: told completed, served from the journal, not run again', async () => {
    const { id, local, remote } = await answeredAsItStops(worker => { worker.release(9) }, false)
    expect(local).toEqual({ value: 9 })
    expect(remote).toMatchObject({ ok: true, value: 9, task: { status: 'completed' } })

    const { next, status, runs } = await restarted(id)
    expect(status).toBe('completed')
    expect(await next.tasks.getTask(id)!.result()).toBe(9)
    expect(runs()).toBe(0)
  })

  /**
   * The other way into the stop's last batch: no journal file when the owner started, and its first batch still
   * waiting for the file to be made when the stop comes (the data dir's preparation held). The stop waits for the
   * file too; an answer that comes meanwhile is written with the tasks, and the task still held is ended by the stop.
   */
  it('before the journal file is made: an answer while the stop waits for it is journaled; the task still held resumes', async () => {
    let prepared!: () => void
    let preparing = false
    const { tasks, workers } = await owner(async () => {
      preparing = true
      await new Promise<void>(resolve => { prepared = resolve })
    })
    const answered = tasks.submit(SQUARE, 3)
    const held = tasks.submit(SQUARE, 5)
    const told = (task: typeof answered): Promise<Told> => task.result().then(value => ({ value }), (err: { code?: unknown }) => ({ code: err.code }))
    const outcomes = [told(answered), told(held)]
    const holding = (input: number): { resolve: (value: unknown) => void } | undefined => workers.flatMap(w => w.held).find(call => call.item === input)
    await until(() => preparing && holding(3) != null && holding(5) != null)

    const stopping = journal.stop(tasks)
    holding(3)!.resolve(9)
    await until(() => answered.final)
    prepared()
    await stopping
    expect(await Promise.all(outcomes)).toEqual([{ value: 9 }, { code: ERR_NODE_STOPPED }])

    const { next, runs } = await restarted(answered.id)
    expect(next.tasks.getTask(answered.id)?.status).toBe('completed')
    expect(await next.tasks.getTask(answered.id)!.result()).toBe(9)
    expect(next.tasks.getTask(held.id)?.status).toMatch(/^(queued|dispatched)$/)
    await until(() => next.workers.some(w => w.held.some(call => call.item === 5)))
    expect(runs()).toBe(0)
  })
})

describe('a task submitted while its owner stops gracefully', () => {
  /**
   * A 'status' listener of a task the stop ends submits into a session the stop has not reached yet: that task
   * had no journal row, yet was ended as the journaled ones (ERR_NODE_STOPPED: "it resumes when its owner starts
   * again") and the next start knew nothing of it. A session's submit is now refused once its node is stopping.
   */
  it('from a listener of a task the stop ends: refused with NodeStoppedError, no task made; the journaled one resumes', async () => {
    await journalMade()
    const { tasks, workers } = await owner()
    const first = tasks.session({ name: 'first' })
    const later = tasks.session({ name: 'later' })
    const held = first.submit(SQUARE, 3)
    const heldOutcome = held.result().then(value => ({ value }), (err: { code?: unknown }) => ({ code: err.code }))
    await until(() => workers[0]?.held.length === 1)
    const submitted: Array<{ id: string } | { refused: unknown }> = []
    held.on('status', event => {
      if (event.status !== 'cancelled') return
      try { submitted.push({ id: later.submit(SQUARE, 4).id }) } catch (err) { submitted.push({ refused: err }) }
    })
    await journal.stop(tasks)
    expect(await heldOutcome).toEqual({ code: ERR_NODE_STOPPED })
    expect(submitted).toEqual([{ refused: expect.objectContaining({ code: ERR_NODE_STOPPED }) }])
    expect(later.counts()).toMatchObject({ queued: 0, cancelled: 0 })

    const { status } = await restarted(held.id)
    expect(status).toMatch(/^(queued|dispatched)$/)
  })
})
