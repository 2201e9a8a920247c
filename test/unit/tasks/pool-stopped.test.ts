import { describe, it, expect, afterEach } from 'vitest'
import { TaskPool } from '../../../src/tasks/pool.ts'
import type { PoolConfig } from '../../../src/tasks/pool.ts'
import { Task } from '../../../src/tasks/task.ts'
import { poolOf } from './pool-fixture.ts'
import type { WorkerHandle, ProcessOptions } from '../../../src/owner/worker-handle.ts'
import { EXCUSED_LOSSES } from '../../../src/owner/worker-handle.ts'
import type { WorkerExit } from '../../../src/worker/ipc.ts'
import { AgentLostError, StageSetupError, WorkerExitedError, WorkerStoppedError } from '../../../src/errors.ts'
import { SETUP_FAILURES_TO_FAIL } from '../../../src/pipeline/item-retry.ts'

/** A worker whose end the test chooses: each way rejects what it holds with the error its handle would give. */
class EndingWorker implements WorkerHandle {
  static count = 0
  readonly id = `w-${EndingWorker.count++}`
  readonly agentId = 'agent'
  readonly pid = 1
  readonly stage = 'task:m.ts'
  readonly exited: Promise<WorkerExit>
  readonly items: Array<{ item: unknown, resolve: (v: unknown) => void, reject: (e: Error) => void, start?: () => void }> = []
  dead = false
  private die: (exit: WorkerExit) => void = () => {}
  constructor () { this.exited = new Promise(resolve => { this.die = resolve }) }
  async process (item: unknown, options: ProcessOptions = {}): Promise<unknown> {
    return await new Promise((resolve, reject) => { this.items.push({ item, resolve, reject, start: options.onStart }) })
  }

  end (err: Error, exit: WorkerExit): void {
    this.dead = true
    for (const i of this.items) i.reject(err)
    this.die(exit)
  }

  async kill (): Promise<WorkerExit> {
    const exit = { code: null, signal: 'SIGKILL' }
    this.end(new WorkerExitedError(this.id, 'killed'), exit)
    return exit
  }
}

const CONFIG: PoolConfig = { module: '/m.ts', stage: 'task:m.ts', resources: { cpu: 1, memoryMb: 0 }, window: 2, cancelGraceMs: 50, minWorkers: 0, maxWorkers: 4, sizeEveryMs: 60_000, scaleDownAfterMs: 60_000 }
const tick = async (ms = 0): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
let n = 0
const task = (maxRetries: number, input: unknown = n): Task => new Task({ id: `t${n++}`, session: 's', module: '/m.ts', input, priority: 0, maxRetries })

let pools: TaskPool[] = []
afterEach(async () => { await Promise.all(pools.map(async p => { await p.stop() })); pools = [] })

function pool (window = 1): { pool: TaskPool, workers: EndingWorker[] } {
  return poolOf({ ...CONFIG, window }, () => new EndingWorker(), pools)
}

/**
 * A worker its agent stopped is not the task's doing: seen with real processes, a task with maxRetries 0
 * failed with TaskLostError ("agent ... lost: it left the grid") when its agent was stopped gracefully.
 */
describe('TaskPool: a worker ended by its agent uses no attempt', () => {
  it.each([
    { name: 'stopped by its agent (a drain, a rolling restart, a stop request)', error: (id: string) => new WorkerStoppedError(id, 'by its agent (code 0 signal null)') },
    { name: 'its agent left the grid before the worker\'s exit came', error: () => new AgentLostError('agent', 'it left the grid', { left: true }) }
  ])('$name: a task with maxRetries 0 runs again a few times, attempts still counting up', async ({ error }) => {
    const { pool: p, workers } = pool()
    const t = task(0)
    p.enqueue(t)
    const seen: number[] = []
    t.on('status', e => { seen.push(e.attempts) })
    for (let i = 0; i < EXCUSED_LOSSES; i++) {
      await tick(10)
      expect(t.status).toBe('dispatched')
      workers[i]!.end(error(workers[i]!.id), { code: 0, signal: null, stopped: true })
    }
    await tick(10)
    expect(t.status).toBe('dispatched')
    // attempts started: a client watching it never sees it go down
    expect(t.attempts).toBe(EXCUSED_LOSSES + 1)
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
    workers[EXCUSED_LOSSES]!.items[0]!.resolve('done')
    expect(await t.result()).toBe('done')
  })

  /**
   * It cannot tell who sent a SIGTERM: seen with real processes, a task with maxRetries 0 that SIGTERMs its
   * own worker (or its agent) cycled queued → dispatched → running for ever.
   */
  it.each([
    { name: 'stopped', error: (id: string) => new WorkerStoppedError(id, 'by SIGTERM (a stop request; code null signal SIGTERM)') },
    { name: 'its agent left', error: () => new AgentLostError('agent', 'it left the grid', { left: true }) }
  ])('$name over and over: past the excused losses each counts, and maxRetries ends it with TaskLostError', async ({ error }) => {
    const { pool: p, workers } = pool()
    const t = task(1)
    p.enqueue(t)
    for (let i = 0; i < 20; i++) {
      await tick(10)
      if (t.final) break
      workers[i]!.end(error(workers[i]!.id), { code: null, signal: 'SIGTERM', stopped: true })
    }
    await tick(10)
    await expect(t.result()).rejects.toMatchObject({ code: 'ERR_TASK_LOST' })
    // the excused losses, then maxRetries + 1 counted ones
    expect(t.attempts).toBe(EXCUSED_LOSSES + 2)
    expect(workers).toHaveLength(EXCUSED_LOSSES + 2)
  })

  it('its agent failed, or the worker crashed: an attempt, as before', async () => {
    const { pool: p, workers } = pool()
    const t = task(0)
    p.enqueue(t)
    await tick(10)
    workers[0]!.end(new AgentLostError('agent', 'it failed'), { code: null, signal: null, agentLost: true })
    await tick(10)
    await expect(t.result()).rejects.toMatchObject({ code: 'ERR_TASK_LOST' })
  })

  it('a bystander of another task\'s cancel (its worker killed by the pool) keeps its retries for its own losses', async () => {
    const { pool: p, workers } = pool(2)
    const [stubborn, bystander] = [task(1), task(1)]
    p.enqueue(stubborn)
    p.enqueue(bystander)
    await tick(10)
    p.end(stubborn, 'cancelled', 'test')
    await tick(100)
    expect(bystander.status).toBe('dispatched')
    // one crash of its own: within maxRetries 1, since the kill for the other task's sake did not count
    await workers[1]!.kill()
    await tick(10)
    expect(bystander.status).toBe('dispatched')
    workers[2]!.items[0]!.resolve('done')
    expect(await bystander.result()).toBe('done')
  })
})

/**
 * The pipelines' poison rule, for tasks: seen with real processes, three healthy tasks sharing one worker
 * (window 4) with a task that ends its worker process all failed with TaskLostError (maxRetries 1).
 */
describe('TaskPool: a crash of a shared worker', () => {
  it('uses none of its tasks\' attempts; they run alone from then on, and only the one that crashes its worker alone is lost', async () => {
    const { pool: p, workers } = pool(4)
    const poison = task(1, 'poison')
    const healthy = [task(1, 'a'), task(1, 'b'), task(1, 'c')]
    for (const t of [poison, ...healthy]) p.enqueue(t)
    await tick(10)
    expect(workers[0]!.items).toHaveLength(4)
    for (let step = 0; step < 20 && !poison.final; step++) {
      const worker = workers.find(w => !w.dead && w.items.length > 0)
      if (worker == null) { await tick(10); continue }
      // suspects run alone, each on a worker of its own
      if (worker !== workers[0]) expect(worker.items).toHaveLength(1)
      if (worker.items[0]!.item === 'poison') await worker.kill()
      else { const { item, resolve } = worker.items.shift()!; resolve(`ok ${String(item)}`) }
      await tick(10)
    }
    await expect(poison.result()).rejects.toMatchObject({ code: 'ERR_TASK_LOST' })
    expect(await Promise.all(healthy.map(async t => await t.result()))).toEqual(['ok a', 'ok b', 'ok c'])
  })
})

/**
 * The pipelines' setup rule, for tasks: seen with a real agent, 200 tasks of a module whose setup throws
 * were each retried on new workers until lost, forking 200 workers.
 */
describe('TaskPool: workers failing in their setup', () => {
  it('three in a row fail the task, the queued ones and the suspects waiting at once, with the setup error, none excused', async () => {
    const { pool: p, workers } = pool(2)
    const shared = [task(5, 'a'), task(5, 'b')]
    for (const t of shared) p.enqueue(t)
    await tick(10)
    // a crash they shared: both wait as suspects, each for a worker of its own
    await workers[0]!.kill()
    const queued = task(5, 'c')
    p.enqueue(queued)
    for (let i = 1; i <= SETUP_FAILURES_TO_FAIL; i++) {
      await tick(10)
      expect(workers).toHaveLength(i + 1)
      workers[i]!.end(new StageSetupError(workers[i]!.id, 'cannot open the model file'), { code: 1, signal: null, setupFailed: true })
    }
    await tick(10)
    for (const t of [...shared, queued]) {
      expect(t.status).toBe('failed')
      expect(t.error).toMatchObject({ code: 'ERR_STAGE_SETUP' })
      // the shared crash only: the setup failures were counted, then ended them
      expect(t.excusedLosses).toBe(t === queued ? 0 : 1)
    }
  })

  /** Only a task completing or throwing reset the count: one bad agent's setups failed a module whose tasks ran fine elsewhere. */
  it('a task that starts shows the setup works: the failures before it do not count towards the three', async () => {
    const { pool: p, workers } = pool(1)
    const t = task(5)
    p.enqueue(t)
    const setupFails = async (): Promise<void> => {
      await tick(10)
      const w = workers.at(-1)!
      w.end(new StageSetupError(w.id, 'no GPU on this agent'), { code: 1, signal: null, setupFailed: true })
    }
    await setupFails()
    await setupFails()
    await tick(10)
    // on another agent's worker it starts, then that worker crashes under it (a loss, neither completed nor thrown)
    const good = workers.at(-1)!
    good.items[0]!.start!()
    expect(t.status).toBe('running')
    await good.kill()
    await setupFails()
    await tick(10)
    expect(t.status).toBe('dispatched')
  })
})
