import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { ERR_TASK_CANCELLED, ERR_TASK_FAILED, ERR_TASK_LOST, TaskError } from '../../src/errors.ts'

// one module that misbehaves as user code does, picked by input.kind
const MODULE = fileURLToPath(new URL('../fixtures/tasks/misbehaves.mjs', import.meta.url))
const ALONE = fileURLToPath(new URL('../fixtures/tasks/misbehaves-alone.mjs', import.meta.url))
const BLOCKING = fileURLToPath(new URL('../fixtures/tasks/misbehaves-blocking.mjs', import.meta.url))
const SETUP_THROWS = fileURLToPath(new URL('../fixtures/stages/setup-throws.mjs', import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']

const failure = async (promise: Promise<unknown>): Promise<Error> => await promise.then(() => { throw new Error('resolved') }, (err: Error) => err)
const times = (text: string, part: string): number => text.split(part).length - 1

describe('tasks whose code misbehaves: what the submitter sees, what the agent logs (real agent process)', () => {
  let grid: GridFixture
  let agent: GridProcess
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    agent = (await grid.startAgents(1, AGENT))[0]!
    owner = await grid.member('n2', agent, 1, { tasks: { cancelGraceMs: 300 } })
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('a thrown string, undefined or object with a cycle: the message shows the value, the stack says none was thrown (it named the agent\'s own code)', async () => {
    const seen = await Promise.all(['throw-string', 'throw-undefined', 'throw-circular'].map(async kind => await failure(owner.run(MODULE, { kind })) as TaskError))
    for (const err of seen) {
      expect(err).toBeInstanceOf(TaskError)
      expect(err.code).toBe(ERR_TASK_FAILED)
      expect(err.remoteStack).toContain('was thrown, not an Error')
      expect(err.remoteStack).not.toMatch(/local-worker|src\/agent/)
    }
    expect(seen.map(e => e.message.replace(/^task \S+ failed: /, ''))).toEqual([
      'Error: a string thrown',
      'Error: undefined',
      'Error: <ref *1> { a: 1, self: [Circular *1] }'
    ])
  }, 30_000)

  it('a worker that calls process.exit(3) on every attempt: TaskLostError says its prefix once; so does a cancel', async () => {
    const lost = await failure(owner.run(MODULE, { kind: 'exit3' }, { maxRetries: 1 }))
    expect(lost).toMatchObject({ code: ERR_TASK_LOST })
    expect(times(lost.message, 'was lost on each of 2 attempts')).toBe(1)
    expect(lost.message).toContain('exited: code 3')

    const hung = owner.submit(MODULE, { kind: 'hang' })
    hung.cancel()
    const cancelled = await failure(hung.result())
    expect(cancelled).toMatchObject({ code: ERR_TASK_CANCELLED })
    expect(times(cancelled.message, 'was cancelled')).toBe(1)
    // the agent stays healthy: the next task runs
    expect(await owner.run(MODULE, { kind: 'pid' })).toBeGreaterThan(0)
  }, 30_000)

  it('an uncaught exception after the task returned: the task completed, the agent warns once that its worker crashed, naming the file and line', async () => {
    const mark = agent.mark()
    expect(await owner.run(MODULE, { kind: 'throw-later' })).toBe('returned')
    const exit = await agent.waitFor(l => l.msg === 'worker exited' && (l.error as { message?: string } | undefined)?.message === 'late boom', 10_000, mark)
    expect(exit.level).toBe(40)
    expect((exit.error as { stack: string }).stack).toMatch(/misbehaves\.mjs:25/)
    expect(agent.lines.slice(mark).filter(l => l.msg === 'worker exited').length).toBe(1)
    // its pool replaces it
    expect(await owner.run(MODULE, { kind: 'pid' })).toBeGreaterThan(0)
  }, 30_000)

  it('a task that hangs without a timeout does not hold the tasks sent to its worker behind it: they come back and run on another worker', async () => {
    const hung = owner.submit(ALONE, { kind: 'hang' })
    await eventually(() => hung.status === 'running' ? true : undefined, 15_000)
    // its pool's only worker, a window of 4: these are sent to it, behind the hung task
    const behind = [1, 2, 3].map(() => owner.submit(ALONE, { kind: 'pid' }))
    const pids = await Promise.race([
      Promise.all(behind.map(async h => await h.result() as number)),
      new Promise<never>((_resolve, reject) => setTimeout(() => { reject(new Error(`still waiting: ${behind.map(h => h.status).join(', ')}`)) }, 15_000))
    ])
    expect(pids.every(pid => pid > 0)).toBe(true)
    expect(behind.map(h => h.info().attempts)).toEqual([1, 1, 1])
    expect(hung.status).toBe('running')
    hung.cancel()
    await expect(hung.result()).rejects.toMatchObject({ code: ERR_TASK_CANCELLED })
  }, 40_000)

  it('a module whose setup always throws: after three workers in a row fail so, its tasks fail with that error at once instead of each forking more workers', async () => {
    const mark = agent.mark()
    const started = (): number => agent.lines.slice(mark).filter(l => l.msg === 'worker started' && l.stage === 'task:setup-throws.mjs').length
    const errors = await Promise.all(Array.from({ length: 40 }, async (_, i) => await failure(owner.run(SETUP_THROWS, i)) as TaskError))
    for (const err of errors) {
      expect(err).toMatchObject({ code: ERR_TASK_FAILED, remoteName: 'StageSetupError' })
      expect(err.message).toContain('cannot open the model file')
    }
    // each of 40 tasks was tried on up to 4 workers, 4 tasks to a worker: 40 workers forked, 40 logged
    const forked = started()
    expect(forked).toBeLessThanOrEqual(8)
    // a task that comes later tries one more worker, and fails with it
    await expect(owner.run(SETUP_THROWS, 'later')).rejects.toMatchObject({ code: ERR_TASK_FAILED, remoteName: 'StageSetupError' })
    expect(started() - forked).toBeLessThanOrEqual(2)
  }, 60_000)

  /** The worker started the next waiting task as the blocking one returned, before reading the recall sent meanwhile. */
  it('a task that blocks its worker\'s event loop: the recall sent meanwhile is heard before the next task starts there', async () => {
    const blocking = owner.submit(BLOCKING, { kind: 'block', ms: 3000 })
    await eventually(() => blocking.status === 'running' ? true : undefined, 15_000)
    // sent to its worker behind it (a window of 4), and recalled at a sizing tick while it blocks
    const second = owner.submit(BLOCKING, { kind: 'block', ms: 2000 })
    const third = owner.submit(BLOCKING, { kind: 'pid' })
    const [pid, , thirdPid] = await Promise.all([blocking, second, third].map(async h => await h.result() as number))
    // back at the owner, the third waits for a worker while the second blocks the first: a new one
    expect(thirdPid).not.toBe(pid)
    expect(third.info().attempts).toBe(1)
  }, 40_000)
})
