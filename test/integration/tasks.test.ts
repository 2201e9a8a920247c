import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { ERR_TASK_CANCELLED, ERR_TASK_FAILED, ERR_TASK_TIMEOUT, TaskError } from '../../src/errors.ts'
import type { SessionEvent } from '../../src/tasks/types.ts'

const task = (name: string): string => fileURLToPath(new URL(`../fixtures/tasks/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']

describe('tasks on real agent processes (node.run / submit / session)', () => {
  let grid: GridFixture
  let agents: GridProcess[]
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(4)
    agents = await grid.startAgents(2, AGENT)
    owner = await grid.member('n3', agents[0]!, 2, { tasks: { cancelGraceMs: 500, sizeEveryMs: 200 } })
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('run returns the result from a worker on an agent; submit returns a handle at once', async () => {
    expect(await owner.run(task('square.mjs'), 7)).toBe(49)
    const handles = [1, 2, 3, 4, 5].map(n => owner.submit(task('square.mjs'), n))
    expect(handles.every(h => h.id.startsWith(`${owner.peerId}/t-`))).toBe(true)
    expect(await Promise.all(handles.map(async h => await h.result()))).toEqual([1, 4, 9, 16, 25])
    const info = handles[0]!.info()
    expect(info.status).toBe('completed')
    expect(agents.map(a => a.peerId)).toContain(info.agent)
  }, 60_000)

  it('a task that throws is re-thrown as TaskError with the remote name, message, and a stack naming the task file and line', async () => {
    const err = await owner.run(task('fails.mjs'), 'x').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(TaskError)
    expect(err).toMatchObject({ code: ERR_TASK_FAILED, remoteName: 'RangeError' })
    expect((err as TaskError).message).toContain('no good: x')
    expect((err as TaskError).remoteStack).toMatch(/fails\.mjs:3/)
    expect((err as Error).stack).toMatch(/fails\.mjs:3/)
  }, 30_000)

  it('progress reaches the submitter; cancelling a running 10 s task settles within 1 s and frees its worker (no kill)', async () => {
    const handle = owner.submit(task('cooperative.mjs'), { ms: 10_000 })
    const progress: unknown[] = []
    handle.on('progress', e => progress.push(e.value))
    await eventually(() => progress.length >= 3 ? true : undefined, 15_000)
    expect(handle.status).toBe('running')
    const cancelledAt = performance.now()
    handle.cancel()
    await expect(handle.result()).rejects.toMatchObject({ code: ERR_TASK_CANCELLED })
    expect(performance.now() - cancelledAt).toBeLessThan(1000)
    // the worker let go: the next task runs on a worker that was not killed and replaced
    const next = await owner.run(task('cooperative.mjs'), { ms: 50 }) as { pid: number }
    expect(next.pid).toBeGreaterThan(0)
  }, 60_000)

  it('a task that ignores its signal is settled at once and its worker killed after the grace period', async () => {
    const first = await owner.run(task('stubborn.mjs'), { ms: 1 }) as number
    const handle = owner.submit(task('stubborn.mjs'), { ms: 20_000 })
    await eventually(() => handle.status === 'running' ? true : undefined, 15_000)
    handle.cancel()
    await expect(handle.result()).rejects.toMatchObject({ code: ERR_TASK_CANCELLED })
    // the busy worker was killed (its pid gone): the next task runs in a new worker
    await eventually(() => { try { process.kill(first, 0); return undefined } catch { return true } }, 10_000)
    const after = await owner.run(task('stubborn.mjs'), { ms: 1 }) as number
    expect(after).not.toBe(first)
  }, 60_000)

  it('timeoutMs ends an attempt as timeout (its signal aborts)', async () => {
    const started = performance.now()
    await expect(owner.run(task('cooperative.mjs'), { ms: 10_000 }, { timeoutMs: 300 })).rejects.toMatchObject({ code: ERR_TASK_TIMEOUT })
    expect(performance.now() - started).toBeLessThan(5000)
  }, 30_000)

  it('priorities: a module configured to one worker and a window of 1 runs higher priorities first, FIFO within one', async () => {
    const module = task('order.mjs')
    owner.tasks.configure(module, { maxWorkers: 1, window: 1 })
    const blocker = owner.submit(module, { label: 'blocker', ms: 400 })
    await eventually(() => blocker.status === 'running' ? true : undefined, 15_000)
    // queued behind the blocker, lows first: the highs still run before every low
    const lows = [0, 1, 2, 3].map(i => owner.submit(module, { label: `low${i}`, ms: 20 }, { priority: 0 }))
    const highs = [0, 1, 2, 3].map(i => owner.submit(module, { label: `high${i}`, ms: 20 }, { priority: 10 }))
    const ran = await Promise.all([blocker, ...lows, ...highs].map(async h => await h.result() as { label: string, at: number }))
    const order = ran.sort((a, b) => a.at - b.at).map(r => r.label)
    expect(order).toEqual(['blocker', 'high0', 'high1', 'high2', 'high3', 'low0', 'low1', 'low2', 'low3'])
    // one worker ran them all, one at a time
    expect(new Set([blocker, ...lows, ...highs].map(h => h.info().agent)).size).toBe(1)
  }, 60_000)

  it('three sessions in parallel: exact counts by status, events until done', async () => {
    const sessions = [owner.session({ name: 'a' }), owner.session({ name: 'b' }), owner.session({ name: 'c', priority: 5 })]
    const events: SessionEvent[] = []
    const reading = (async () => { for await (const e of sessions[0]!.events()) events.push(e) })()
    const runs = sessions.map(async (s, i) => {
      const ok = Array.from({ length: 10 + i }, (_, n) => s.submit(task('square.mjs'), n))
      const bad = Array.from({ length: i }, () => s.submit(task('fails.mjs'), i))
      const cancelled = s.submit(task('cooperative.mjs'), { ms: 10_000 })
      cancelled.cancel()
      await Promise.allSettled([...ok, ...bad, cancelled].map(async h => await h.result()))
      s.close()
      await s.done
      return s.counts()
    })
    const counts = await Promise.all(runs)
    for (const [i, c] of counts.entries()) {
      expect(c).toMatchObject({ completed: 10 + i, failed: i, cancelled: 1, queued: 0, dispatched: 0, running: 0, timeout: 0 })
    }
    await reading
    expect(events.filter(e => e.type === 'status' && e.status === 'completed').length).toBe(10)
    expect(sessions[0]!.tasks({ status: 'cancelled' }).length).toBe(1)
  }, 60_000)

  it('a task whose agent is SIGKILLed mid-run is retried on another agent and completes', async () => {
    const handle = owner.submit(task('cooperative.mjs'), { ms: 3000 }, { maxRetries: 2 })
    await eventually(() => handle.status === 'running' ? true : undefined, 15_000)
    const victim = agents.find(a => a.peerId === handle.info().agent)!
    expect(victim).toBeDefined()
    victim.proc.kill('SIGKILL')
    const value = await handle.result() as { ran: number }
    expect(value.ran).toBeGreaterThanOrEqual(3000)
    expect(handle.info().attempts).toBe(2)
    expect(handle.info().agent).not.toBe(victim.peerId)
  }, 60_000)
})
