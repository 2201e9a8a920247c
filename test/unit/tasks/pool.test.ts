import { describe, it, expect, afterEach } from 'vitest'
import pino from 'pino'
import { TaskPool } from '../../../src/tasks/pool.ts'
import type { PoolConfig } from '../../../src/tasks/pool.ts'
import { Task } from '../../../src/tasks/task.ts'
import { poolOf } from './pool-fixture.ts'
import type { WorkerHandle, ProcessOptions } from '../../../src/owner/worker-handle.ts'
import type { WorkerExit } from '../../../src/worker/ipc.ts'
import { StageSetupError, WorkerExitedError } from '../../../src/errors.ts'

/** A worker whose items the test settles by hand; dies (rejecting what it holds) when killed. */
class FakeWorker implements WorkerHandle {
  static count = 0
  readonly id = `w-${FakeWorker.count++}`
  readonly agentId = 'agent'
  readonly pid = 1
  readonly stage = 'task:m.ts'
  readonly exited: Promise<WorkerExit>
  readonly items: Array<{ item: unknown, options: ProcessOptions, resolve: (v: unknown) => void, reject: (e: Error) => void }> = []
  killed = false
  private die: (exit: WorkerExit) => void = () => {}
  constructor () { this.exited = new Promise(resolve => { this.die = resolve }) }
  async process (item: unknown, options: ProcessOptions = {}): Promise<unknown> {
    return await new Promise((resolve, reject) => { this.items.push({ item, options, resolve, reject }) })
  }

  async kill (): Promise<WorkerExit> {
    this.killed = true
    const exit = { code: null, signal: 'SIGKILL' }
    for (const i of this.items) i.reject(new WorkerExitedError(this.id, 'killed'))
    this.die(exit)
    return exit
  }
}

const CONFIG: PoolConfig = { module: '/m.ts', stage: 'task:m.ts', resources: { cpu: 1, memoryMb: 0 }, window: 2, cancelGraceMs: 50, minWorkers: 0, maxWorkers: 4, sizeEveryMs: 60_000, scaleDownAfterMs: 60_000 }
const tick = async (ms = 0): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
let n = 0
const task = (over: Partial<ConstructorParameters<typeof Task>[0]> = {}): Task => new Task({ id: `t${n++}`, session: 's', module: '/m.ts', input: n, priority: 0, maxRetries: 1, ...over })

let pools: TaskPool[] = []
afterEach(async () => { await Promise.all(pools.map(async p => { await p.stop() })); pools = [] })

function pool (config: Partial<PoolConfig> = {}): { pool: TaskPool, workers: FakeWorker[] } {
  return poolOf({ ...CONFIG, ...config }, () => new FakeWorker(), pools)
}

describe('TaskPool', () => {
  it('starts a worker for the first task and sends it at most `window` tasks at once, as tasks', async () => {
    const { pool: p, workers } = pool()
    const tasks = [task(), task(), task()]
    for (const t of tasks) p.enqueue(t)
    await tick()
    expect(workers.length).toBe(1)
    expect(workers[0]!.items.length).toBe(2)
    expect(workers[0]!.items[0]!.options.task).toBe(true)
    expect(tasks.map(t => t.status)).toEqual(['dispatched', 'dispatched', 'queued'])
    workers[0]!.items[0]!.options.onStart?.()
    expect(tasks[0]!.status).toBe('running')
    workers[0]!.items[0]!.resolve('done')
    await tick()
    expect(tasks[0]!.status).toBe('completed')
    expect(await tasks[0]!.result()).toBe('done')
    expect(tasks[2]!.status).toBe('dispatched')
  })

  it('a task that throws fails at once (no retry); one whose worker dies is retried up to maxRetries, then lost', async () => {
    const { pool: p, workers } = pool({ window: 1 })
    const thrower = task()
    p.enqueue(thrower)
    await tick()
    workers[0]!.items[0]!.reject(Object.assign(new Error('boom'), { name: 'TypeError' }))
    await tick()
    expect(thrower.status).toBe('failed')
    await expect(thrower.result()).rejects.toMatchObject({ code: 'ERR_TASK_FAILED', remoteName: 'TypeError' })

    const unlucky = task({ maxRetries: 1 })
    p.enqueue(unlucky)
    await tick()
    await workers[0]!.kill()
    await tick(10)
    expect(unlucky.status).toBe('dispatched')
    expect(unlucky.attempts).toBe(2)
    await workers[1]!.kill()
    await tick(10)
    expect(unlucky.status).toBe('failed')
    const lost = await unlucky.result().catch((err: Error) => err)
    expect(lost).toMatchObject({ code: 'ERR_TASK_LOST' })
    // said once, not the stored failure's text again after the same prefix
    expect((lost as Error).message.match(/lost on each of/g)).toHaveLength(1)
    expect((lost as Error).message).toMatch(new RegExp(`^task ${unlucky.id}: `))
  })

  it('cancel aborts the running task\'s signal; a task that ignores it has its worker killed after the grace period, and the others in flight run again', async () => {
    const { pool: p, workers } = pool()
    const [stubborn, bystander] = [task(), task()]
    p.enqueue(stubborn!)
    p.enqueue(bystander!)
    await tick()
    const signal = workers[0]!.items[0]!.options.signal!
    p.end(stubborn!, 'cancelled', 'test')
    expect(signal.aborted).toBe(true)
    expect(stubborn!.status).toBe('cancelled')
    await tick(100)
    expect(workers[0]!.killed).toBe(true)
    // the bystander was not at fault: back to a new worker, not failed
    await tick(10)
    expect(bystander!.status).toBe('dispatched')
    expect(workers.length).toBe(2)
  })

  it('a task past its timeoutMs ends as timeout and its signal aborts', async () => {
    const { pool: p, workers } = pool()
    const slow = task({ timeoutMs: 30 })
    p.enqueue(slow)
    await tick()
    await tick(60)
    expect(slow.status).toBe('timeout')
    expect(workers[0]!.items[0]!.options.signal!.aborted).toBe(true)
    await expect(slow.result()).rejects.toMatchObject({ code: 'ERR_TASK_TIMEOUT' })
  })
})

describe('TaskPool log', () => {
  it('a module whose workers all die logs one "task worker lost" line a minute, not one per worker', async () => {
    const lines: Array<{ msg: string }> = []
    const { pool: p, workers } = poolOf({ ...CONFIG, maxWorkers: 1 }, () => new FakeWorker(), pools, pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line) as { msg: string }) } }))
    const tasks = Array.from({ length: 5 }, () => task({ maxRetries: 10 }))
    for (const t of tasks) p.enqueue(t)
    for (let i = 0; i < 5; i++) {
      await tick(5)
      const w = workers.at(-1)!
      // the worker process died under its tasks (not a kill by the pool)
      for (const item of w.items) item.reject(new WorkerExitedError(w.id, 'exit code 3'))
    }
    await tick(5)
    expect(workers.length).toBeGreaterThanOrEqual(5)
    expect(lines.filter(l => l.msg.startsWith('task worker lost'))).toHaveLength(1)
  })

  /** The line was held back per module only: a setup failure hid a different crash for a minute. */
  it('a task out of retries whose last worker failed in its setup fails with that setup error (the module\'s file and line), not as a lost worker', async () => {
    const { pool: p, workers } = pool({ window: 1 })
    const once = task({ maxRetries: 0 })
    p.enqueue(once)
    await tick()
    const setup = new StageSetupError(workers[0]!.id, 'Error: no GPU')
    setup.stack = `${setup.name}: ${setup.message}\n    at setup (file:///srv/tasks/render.ts:12:11)`
    workers[0]!.items[0]!.reject(setup)
    await tick(10)
    expect(once.status).toBe('failed')
    expect(once.error).toMatchObject({ code: 'ERR_STAGE_SETUP', message: expect.stringContaining('no GPU'), stack: expect.stringContaining('render.ts:12:11') })
  })

  it('a worker lost another way than the last one logged is logged at once', async () => {
    const lines: Array<{ msg: string }> = []
    const workers: FakeWorker[] = []
    const p = new TaskPool({ ...CONFIG, maxWorkers: 1 }, {
      spawn: async () => { const w = new FakeWorker(); workers.push(w); return w },
      capacity: (_r, limit) => limit,
      log: pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line) as { msg: string }) } })
    })
    pools.push(p)
    p.enqueue(task({ maxRetries: 10 }))
    const ends = [(id: string) => new StageSetupError(id, 'no GPU'), (id: string) => new WorkerExitedError(id, 'exit code 3'), (id: string) => new WorkerExitedError(id, 'exit code 3')]
    for (const end of ends) {
      await tick(5)
      const w = workers.at(-1)!
      for (const item of w.items) item.reject(end(w.id))
    }
    await tick(5)
    expect(lines.filter(l => l.msg.startsWith('task worker lost')).map(l => l.msg)).toEqual([
      expect.stringContaining('no GPU'),
      expect.stringContaining('exit code 3')
    ])
  })
})
