import { describe, it, expect, afterEach } from 'vitest'
import pino from 'pino'
import { TaskPool } from '../../../src/tasks/pool.ts'
import { STUCK_AFTER_MS } from '../../../src/tasks/long-task.ts'
import type { PoolConfig } from '../../../src/tasks/pool.ts'
import { Task } from '../../../src/tasks/task.ts'
import { ScriptedWorker } from './scripted-worker.ts'
import { Session } from '../../../src/tasks/session.ts'
import { TaskStats } from '../../../src/tasks/stats.ts'

const CONFIG: PoolConfig = { module: '/m.ts', stage: 'task:m.ts', resources: { cpu: 1, memoryMb: 0 }, window: 4, cancelGraceMs: 60_000, minWorkers: 0, maxWorkers: 2, sizeEveryMs: 100, scaleDownAfterMs: 60_000 }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
let n = 0
// 'run' starts and runs until its signal aborts; 'hold' waits in its worker, unstarted, until then; 'deaf' waits and ignores it
const task = (kind: 'run' | 'hold' | 'deaf'): Task => new Task({ id: `t${n++}`, session: 's', module: '/m.ts', input: { kind }, priority: 0, maxRetries: 0 })

let pools: TaskPool[] = []
afterEach(async () => { await Promise.all(pools.map(async p => { await p.stop() })); pools = [] })

function pool (config: Partial<PoolConfig> = {}): { pool: TaskPool, workers: ScriptedWorker[] } {
  const workers: ScriptedWorker[] = []
  const p = new TaskPool({ ...CONFIG, ...config }, {
    spawn: async () => { const w = new ScriptedWorker(); workers.push(w); return w },
    capacity: (_r, limit) => limit,
    log: pino({ level: 'silent' })
  })
  pools.push(p)
  p.start()
  return { pool: p, workers }
}

describe('TaskPool: a long task does not hold the tasks sent behind it', () => {
  it('tasks waiting behind one that ran past STUCK_AFTER_MS come back, unstarted and not counted, and go to a new worker', async () => {
    const { pool: p, workers } = pool()
    const long = task('run')
    const behind = [task('hold'), task('hold')]
    for (const t of [long, ...behind]) p.enqueue(t)
    await sleep(10)
    expect(workers.length).toBe(1)
    expect(behind.map(t => t.status)).toEqual(['dispatched', 'dispatched'])
    await sleep(STUCK_AFTER_MS + 300)
    expect(long.status).toBe('running')
    expect(workers.length).toBe(2)
    // dispatched again, to the new worker (the first takes none while its task runs): one attempt each
    expect(behind.map(t => [t.status, t.attempts])).toEqual([['dispatched', 1], ['dispatched', 1]])
    // being taken back is no loss of theirs: neither counted nor excused
    expect(behind.map(t => [t.countedLosses, t.excusedLosses])).toEqual([[0, 0], [0, 0]])
  })

  /** Its recall marked it queued again, which sessions and the node counted as a retry (a lost worker's): retries 1, attempts 1. */
  it('a task taken back unstarted is no retry: its session\'s counts().retries and the node\'s retries stay 0', async () => {
    const { pool: p } = pool()
    const stats = new TaskStats()
    const session = new Session('owner', {}, { enqueue: t => { p.enqueue(t) }, cancel: (t, reason) => { p.end(t, 'cancelled', reason) }, changed: (t, previous) => { stats.changed(t, previous) } })
    session.submit('/m.ts', { kind: 'run' }, { maxRetries: 0 })
    const behind = session.submit('/m.ts', { kind: 'hold' }, { maxRetries: 0 })
    await sleep(STUCK_AFTER_MS + 300)
    expect([behind.status, behind.attempts]).toEqual(['dispatched', 1])
    expect(session.counts().retries).toBe(0)
    expect(stats.retries).toBe(0)
  })

  it('a worker that crashes under a long task while taking back the tasks behind it: they lose nothing, and it crashed with its long task alone', async () => {
    const { pool: p, workers } = pool({ maxWorkers: 1 })
    const long = task('run')
    // a recall they do not answer (not yet sent back) when the worker crashes
    const behind = [task('deaf'), task('deaf')]
    for (const t of [long, ...behind]) p.enqueue(t)
    await sleep(STUCK_AFTER_MS + 300)
    expect(behind.map(t => t.status)).toEqual(['dispatched', 'dispatched'])
    workers[0]!.crash()
    await sleep(50)
    // never started: not counted, not excused, not suspects (they went to the next worker together, window 4)
    expect(behind.map(t => [t.status, t.attempts, t.countedLosses, t.excusedLosses])).toEqual([['dispatched', 1, 0, 0], ['dispatched', 1, 0, 0]])
    expect(workers.length).toBe(2)
    // the one task that ran counts the crash as its own (maxRetries 0): a crash shared with them would have been excused
    expect(long.status).toBe('failed')
    expect(long.error?.code).toBe('ERR_TASK_LOST')
  })

  it('a suspect running alone past STUCK_AFTER_MS holds up no other task: another worker is started within maxWorkers', async () => {
    const { pool: p, workers } = pool({ maxWorkers: 3, sizeEveryMs: 60_000 })
    const both = [task('run'), task('run')]
    for (const t of both) p.enqueue(t)
    await sleep(10)
    // a crash they shared: each runs again alone; one worker is started at once, the other suspect waits for it to end
    workers[0]!.crash()
    await sleep(50)
    expect(both.map(t => t.status).sort()).toEqual(['queued', 'running'])
    expect(workers.length).toBe(2)
    await sleep(STUCK_AFTER_MS + 100)
    // its worker runs a long task: the next task's arrival starts a worker, which the waiting suspect takes first
    p.enqueue(task('hold'))
    await sleep(50)
    expect(workers.length).toBe(3)
    expect(both.map(t => t.status)).toEqual(['running', 'running'])
    expect(both.map(t => t.excusedLosses)).toEqual([1, 1])
  })

  /** A task that began as the recall came and then threw its own error was sent again: a maxRetries 0 task ran twice. */
  it.each([
    { late: 'own', outcome: ['failed', 1, 'RangeError'] },
    { late: 'cancel', outcome: ['dispatched', 2, undefined] }
  ] as const)('a task recalled as it started ends by its own error ($late: $outcome.0), only the recall\'s cancellation sends it again', async ({ late, outcome }) => {
    const { pool: p } = pool({ maxWorkers: 1 })
    const long = task('run')
    const behind = new Task({ id: `t${n++}`, session: 's', module: '/m.ts', input: { kind: 'late', late }, priority: 0, maxRetries: 0 })
    for (const t of [long, behind]) p.enqueue(t)
    await sleep(STUCK_AFTER_MS + 300)
    expect([behind.status, behind.attempts, behind.error?.name]).toEqual(outcome)
  })

  /** Nothing waited in the hung worker to recall, and only an arrival, a requeue or an exit started a worker: it waited for ever. */
  it('window 1: a task queued behind the only worker\'s hung task gets a new worker at a sizing tick', async () => {
    const { pool: p, workers } = pool({ window: 1, maxWorkers: 2 })
    const long = task('run')
    const next = task('hold')
    for (const t of [long, next]) p.enqueue(t)
    await sleep(10)
    expect([workers.length, next.status]).toEqual([1, 'queued'])
    await sleep(STUCK_AFTER_MS + 300)
    expect([workers.length, long.status, next.status]).toEqual([2, 'running', 'dispatched'])
  })

  it('a worker whose last task ran past STUCK_AFTER_MS is sent one task at a time, so none waits behind the next', async () => {
    const { pool: p } = pool({ maxWorkers: 1 })
    const long = task('run')
    p.enqueue(long)
    await sleep(STUCK_AFTER_MS + 100)
    p.end(long, 'cancelled', 'done with it')
    await sleep(10)
    const next = [task('hold'), task('hold')]
    for (const t of next) p.enqueue(t)
    await sleep(10)
    expect(next.map(t => t.status)).toEqual(['dispatched', 'queued'])
  })
})
