import { describe, it, expect, afterEach, vi } from 'vitest'
import { fileURLToPath } from 'node:url'
import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createRegistry } from '../../../src/metrics/collectors.ts'
import { Tasks } from '../../../src/tasks/tasks.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'
import { entry } from '../membership/helpers.ts'
import { ScriptedWorker } from '../tasks/scripted-worker.ts'
import { parse, value } from '../../integration/helpers/prom-text.ts'

const MODULE = fileURLToPath(new URL('../../fixtures/tasks/square.mjs', import.meta.url))


let tasks: Tasks | undefined
afterEach(async () => { await tasks?.stop() })

describe('task metrics, scraped from a node\'s tasks (a scripted worker)', () => {
  it('count tasks by final status, open ones by status, retries, sessions and the submit → final latency', async () => {
    tasks = new Tasks('owner', { spawn: async () => new ScriptedWorker(), capacity: (_r, limit) => limit, log: pino({ level: 'silent' }) }, { maxWorkers: 1, window: 16 })
    tasks.start()
    // tasks that end before anything scrapes count too: the add-on may start after them
    const ended = [
      ...[1, 2, 3].map(() => tasks!.submit(MODULE, { kind: 'ok' })),
      tasks.submit(MODULE, { kind: 'fail' }),
      tasks.submit(MODULE, { kind: 'lost', id: 'x' }),
      tasks.submit(MODULE, { kind: 'hold' }, { timeoutMs: 20 })
    ]
    const cancelled = tasks.submit(MODULE, { kind: 'hold' })
    const running = tasks.submit(MODULE, { kind: 'run' })
    const dispatched = tasks.submit(MODULE, { kind: 'hold' })
    const session = tasks.session({ name: 'other' })
    await vi.waitFor(() => { expect(running.status).toBe('running') })
    cancelled.cancel()
    await Promise.allSettled([...ended, cancelled].map(async t => await t.result()))

    // a variable, not a literal: hosts that offer more than the registry reads pass too
    const host = { self: () => ({ ...entry('S'), lastSeenMs: 0 }), members: () => [], pipelines: () => [], connectedPeers: () => [], rejectedMessages: () => [], certificateNotAfter: () => Date.now() + 90_000, tasksOverview: () => tasks!.overview() }
    const { registry } = createRegistry(host)
    const samples = parse(await registry.metrics())
    expect(value(samples, 'gridd_tasks_total', { status: 'completed' })).toBe(4)
    expect(value(samples, 'gridd_tasks_total', { status: 'failed' })).toBe(1)
    expect(value(samples, 'gridd_tasks_total', { status: 'timeout' })).toBe(1)
    expect(value(samples, 'gridd_tasks_total', { status: 'cancelled' })).toBe(1)
    expect(value(samples, 'gridd_tasks_open', { status: 'running' })).toBe(1)
    expect(value(samples, 'gridd_tasks_open', { status: 'dispatched' })).toBe(1)
    expect(value(samples, 'gridd_tasks_open', { status: 'queued' })).toBe(0)
    expect(value(samples, 'gridd_task_retries_total')).toBe(1)
    expect(value(samples, 'gridd_task_sessions')).toBe(2)
    // every final task once in the histogram: none above 600 s, the timed-out one (20 ms) above 10 ms
    expect(value(samples, 'gridd_task_duration_seconds_count')).toBe(7)
    expect(value(samples, 'gridd_task_duration_seconds_bucket', { le: '+Inf' })).toBe(7)
    expect(value(samples, 'gridd_task_duration_seconds_bucket', { le: '600' })).toBe(7)
    expect(value(samples, 'gridd_task_duration_seconds_bucket', { le: '0.01' })).toBeLessThanOrEqual(6)
    expect(value(samples, 'gridd_task_duration_seconds_sum')).toBeGreaterThanOrEqual(0.02)
    const buckets = samples.filter(s => s.name === 'gridd_task_duration_seconds_bucket').map(s => s.value)
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b))

    // a session's counts go with it; the totals stay
    running.cancel()
    dispatched.cancel()
    await Promise.allSettled([running, dispatched].map(async t => await t.result()))
    session.close()
    await session.done
    const after = parse(await registry.metrics())
    expect(value(after, 'gridd_tasks_total', { status: 'cancelled' })).toBe(3)
    expect(value(after, 'gridd_tasks_open', { status: 'running' })).toBe(0)
    expect(value(after, 'gridd_task_sessions')).toBe(1)
    expect(tasks.overview().running).toEqual([])
  })

  it('a scrape reads the tasks overview (which stats the journal\'s files) once for all the task metrics, and the next scrape anew', async () => {
    let reads = 0
    const host = { self: () => ({ ...entry('S'), lastSeenMs: 0 }), members: () => [], pipelines: () => [], connectedPeers: () => [], rejectedMessages: () => [], certificateNotAfter: () => Date.now() + 90_000, tasksOverview: () => ({ ...emptyOverview(), journalBytes: ++reads * 4096, moduleCacheBytes: 3 * 4096 }) }
    const { registry } = createRegistry(host)
    const first = parse(await registry.metrics())
    expect(value(first, 'gridd_task_journal_bytes')).toBe(4096)
    expect(value(first, 'gridd_task_module_cache_bytes')).toBe(3 * 4096)
    expect(reads).toBe(1)
    expect(value(parse(await registry.metrics()), 'gridd_task_journal_bytes')).toBe(2 * 4096)
    expect(reads).toBe(2)
  })

  it('gridd_task_journal_bytes: the journal\'s file and write-ahead log on disk, 0 for a node without one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gridd-journal-bytes-'))
    try {
      const file = join(dir, 'tasks.sqlite')
      tasks = new Tasks('owner', { spawn: async () => new ScriptedWorker(), capacity: (_r, limit) => limit, log: pino({ level: 'silent' }) }, { maxWorkers: 1, window: 16 }, { file, prepare: async () => {} })
      tasks.start()
      const host = { self: () => ({ ...entry('S'), lastSeenMs: 0 }), members: () => [], pipelines: () => [], connectedPeers: () => [], rejectedMessages: () => [], certificateNotAfter: () => Date.now() + 90_000, tasksOverview: () => tasks!.overview() }
      const { registry } = createRegistry(host)
      expect(value(parse(await registry.metrics()), 'gridd_task_journal_bytes')).toBe(0)
      await Promise.all([1, 2, 3].map(async () => await tasks!.submit(MODULE, { kind: 'ok' }).result()))
      const onDisk = (): number => [file, `${file}-wal`].reduce((n, f) => { try { return n + statSync(f).size } catch { return n } }, 0)
      // once the writer thread has written (it writes in batches, so read both when they agree)
      await vi.waitFor(async () => {
        const scraped = value(parse(await registry.metrics()), 'gridd_task_journal_bytes')
        expect(scraped).toBeGreaterThan(0)
        expect(scraped).toBe(onDisk())
      }, { timeout: 5000 })
    } finally {
      await tasks?.stop()
      tasks = undefined
      await rm(dir, { recursive: true, force: true })
    }
  })
})
