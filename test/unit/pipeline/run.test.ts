import { describe, it, expect, afterEach, vi } from 'vitest'
import { PipelineRun } from '../../../src/pipeline/run.ts'
import type { PipelineGrid } from '../../../src/pipeline/run.ts'
import type { PipelineInit, UnplaceableStage } from '../../../src/pipeline/types.ts'
import { ConfigError, NoCapacityError, StageBundleError } from '../../../src/errors.ts'
import { FakeWorker, flush, silent, unhandledDuring } from './fake-worker.ts'
import type { Behaviour } from './fake-worker.ts'

/** A grid stub: spawn hands out FakeWorkers with the stage's behaviour (or throws what `refuse` says). */
function grid (behaviours: Record<string, Behaviour>, refuse: () => Error | undefined = () => undefined): PipelineGrid & { workers: FakeWorker[] } {
  const workers: FakeWorker[] = []
  return {
    workers,
    spawn: async options => {
      const refusal = refuse()
      if (refusal != null) throw refusal
      const worker = new FakeWorker(options.stage, behaviours[options.stage])
      workers.push(worker)
      return worker
    },
    capacity: () => 8
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)
const start = (init: PipelineInit, g: PipelineGrid): PipelineRun => new PipelineRun('test', init, g, silent)

afterEach(() => { vi.useRealTimers() })

const within = async <T>(done: Promise<T>, ms = 2000): Promise<T | 'not finished'> => await Promise.race([done, new Promise<'not finished'>(resolve => { setTimeout(() => { resolve('not finished') }, ms) })])

describe('PipelineRun with stub workers', () => {
  it('moves every item through its stages to the sink and resolves done with the summary; fan-outs and drops are counted', async () => {
    const out: unknown[] = []
    const g = grid({ double: n => (n as number) * 2, split: n => (n as number) % 10 === 0 ? undefined : [n, -(n as number)] })
    const run = start({ source: range(100), stages: [{ name: 'double', module: 'd.mjs' }, { name: 'split', module: 's.mjs' }], sink: v => { out.push(v) }, equalize: false }, g)
    const summary = await run.done
    expect(summary).toMatchObject({ in: 100, out: 160, failed: 0, retried: 0, duplicatesSuppressed: 0 })
    expect(summary.stages.map(s => [s.name, s.processed])).toEqual([['double', 100], ['split', 100]])
    expect(out.filter(v => (v as number) > 0).sort((a, b) => (a as number) - (b as number))).toEqual(range(100).map(n => n * 2).filter(n => n % 10 !== 0))
    // the workers are killed at the end
    expect(g.workers.every(w => w.killed != null)).toBe(true)
  })

  it('a slow sink holds everything back: the source is pulled only as far as the bounded queues and windows reach', async () => {
    let pulled = 0
    function * source (): Generator<number> { for (let n = 1; n <= 200; n++) { pulled++; yield n } }
    const pending: Array<() => void> = []
    const run = start({
      source: source(),
      stages: [{ name: 'echo', module: 'e.mjs' }],
      sink: async () => { await new Promise<void>(resolve => { pending.push(resolve) }) },
      queueSize: 4,
      window: 2,
      maxWindow: 2,
      equalize: false
    }, grid({}))
    for (let i = 0; i < 20; i++) await flush()
    // sink queue 4 (+1 being sunk) + stage queue 4 + window 2 + one item waiting in push
    expect(pulled).toBeLessThanOrEqual(12)
    expect(run.stats().stages[0]).toMatchObject({ queued: 4, workers: 1 })
    const stalled = pulled
    for (let i = 0; i < 10; i++) await flush()
    expect(pulled).toBe(stalled)
    // releasing the sink lets everything through
    while (pending.length > 0) {
      pending.shift()!()
      await flush()
    }
    await expect(run.done).resolves.toMatchObject({ in: 200, out: 200 })
  })

  it('cancel stops pulling, kills the workers and rejects done with ERR_PIPELINE_CANCELLED; push afterwards throws', async () => {
    let pulled = 0
    function * endless (): Generator<number> { for (;;) yield ++pulled }
    const g = grid({ echo: () => 'hold' })
    const run = start({ source: endless(), stages: [{ name: 'echo', module: 'e.mjs', minWorkers: 2 }], sink: () => {}, equalize: false }, g)
    for (let i = 0; i < 5; i++) await flush()
    expect(pulled).toBeGreaterThan(0)
    run.cancel()
    await expect(run.done).rejects.toMatchObject({ code: 'ERR_PIPELINE_CANCELLED' })
    const after = pulled
    for (let i = 0; i < 5; i++) await flush()
    expect(pulled).toBe(after)
    expect(g.workers).toHaveLength(2)
    expect(g.workers.every(w => w.killed != null)).toBe(true)
    run.end()
    await expect(run.push(1)).rejects.toBeInstanceOf(ConfigError)
  })

  it('cancel while the sink is stuck with a full queue and items wait in the last stage: done still rejects with ERR_PIPELINE_CANCELLED, nothing thrown', async () => {
    // a durable sink whose Redis is away holds its batch, and the queue behind it fills
    const run = start({ source: range(200), stages: [{ name: 'echo', module: 'e.mjs' }], sink: async () => { await new Promise<void>(() => {}) }, queueSize: 4, window: 2, maxWindow: 2, equalize: false }, grid({}))
    for (let i = 0; i < 20; i++) await flush()
    expect(run.stats().stages[0]).toMatchObject({ queued: 4 })
    // the closed sink must not wake the last stage again at once, and again, until the stack is gone
    expect(() => { run.cancel() }).not.toThrow()
    expect(await within(run.done.then(() => 'resolved', (err: { code?: string }) => err.code))).toBe('ERR_PIPELINE_CANCELLED')
  })

  it('push takes a signal: aborting it gives up a wait for room (the item is not taken), an aborted one is refused at once', async () => {
    const g = grid({ echo: () => 'hold' })
    const run = start({ stages: [{ name: 'echo', module: 'e.mjs', maxWorkers: 1 }], sink: () => {}, equalize: false, window: 1, maxWindow: 1, queueSize: 1 }, g)
    const abort = new AbortController()
    // fill the stage: a push that waits for room is the one to abort
    let waiting: Promise<void> | undefined
    for (let i = 0; i < 100 && waiting == null; i++) {
      const pushed = run.push(i, { signal: abort.signal })
      const settled = await Promise.race([pushed.then(() => true), flush().then(() => false)])
      if (!settled) waiting = pushed
    }
    expect(waiting).toBeDefined()
    abort.abort(new Error('gave up'))
    await expect(waiting).rejects.toThrow('gave up')
    await expect(run.push(1, { signal: abort.signal })).rejects.toThrow('gave up')
    run.cancel()
    await expect(run.done).rejects.toMatchObject({ code: 'ERR_PIPELINE_CANCELLED' })
  })

  it('push after a cancel rejects with ERR_PIPELINE_CANCELLED: an item the cancelled run would never process is not taken', async () => {
    const g = grid({ echo: () => 'hold' })
    const run = start({ stages: [{ name: 'echo', module: 'e.mjs' }], sink: () => {}, equalize: false }, g)
    await run.push(1)
    run.cancel()
    await expect(run.done).rejects.toMatchObject({ code: 'ERR_PIPELINE_CANCELLED' })
    // the first stage has room: before the fix this resolved, and the item was dropped without a word
    await expect(run.push(2)).rejects.toMatchObject({ code: 'ERR_PIPELINE_CANCELLED' })
  })

  it('a signal aborted before the run starts cancels it: no worker is placed, nothing is pulled, done rejects', async () => {
    let pulled = 0
    function * endless (): Generator<number> { for (;;) yield ++pulled }
    const g = grid({ echo: () => 'hold' })
    const run = start({ source: endless(), stages: [{ name: 'echo', module: 'e.mjs' }], sink: () => {}, equalize: false, signal: AbortSignal.abort() }, g)
    expect(await within(run.done.then(() => 'resolved', (err: Error) => err), 1000)).toMatchObject({ code: 'ERR_PIPELINE_CANCELLED' })
    for (let i = 0; i < 5; i++) await flush()
    expect(pulled).toBe(0)
    expect(g.workers).toHaveLength(0)
  })

  it('push feeds a run without a source; end resolves done once the items are through', async () => {
    const out: unknown[] = []
    const run = start({ stages: [{ name: 'up', module: 'u.mjs' }], sink: v => { out.push(v) }, equalize: false }, grid({ up: s => (s as string).toUpperCase() }))
    for (const word of ['a', 'b', 'c']) await run.push(word)
    run.end()
    await expect(run.done).resolves.toMatchObject({ in: 3, out: 3 })
    expect(out.sort()).toEqual(['A', 'B', 'C'])
  })

  it('a sink that throws fails the run with its error', async () => {
    const run = start({ source: range(10), stages: [{ name: 'echo', module: 'e.mjs' }], sink: () => { throw new RangeError('sink down') }, equalize: false }, grid({}))
    await expect(run.done).rejects.toThrow('sink down')
  })

  it('an item:failed listener that throws is logged: no unhandled rejection, every item is still counted out and the run finishes', async () => {
    let heard = 0
    const unhandled = await unhandledDuring(async () => {
      const run = start({ stages: [{ name: 'fails', module: 'f.mjs' }], sink: () => {}, maxAttempts: 1, equalize: false }, grid({ fails: () => { throw new RangeError('bad item') } }))
      run.on('item:failed', () => { heard++; throw new Error('a bug in the listener') })
      // all in and the input ended before the worker is placed: only the failures can end the run
      for (const n of range(5)) void run.push(n)
      run.end()
      expect(await within(run.done)).toMatchObject({ in: 5, out: 0, failed: 5 })
    })
    expect(unhandled).toEqual([])
    expect(heard).toBe(5)
  })

  it('a worker:lost listener that throws is logged: no unhandled rejection, the lost worker is replaced and the run finishes', async () => {
    let first = true
    const g = grid({ echo: item => { if (first) { first = false; return 'hold' } return item } })
    const unhandled = await unhandledDuring(async () => {
      const run = start({ source: range(3), stages: [{ name: 'echo', module: 'e.mjs' }], sink: () => {}, equalize: false }, g)
      run.on('worker:lost', () => { throw new Error('a bug in the listener') })
      await vi.waitFor(() => { expect(g.workers[0]?.held.length).toBe(1) })
      g.workers[0]!.crash()
      expect(await within(run.done)).toMatchObject({ in: 3, out: 3, failed: 0 })
    })
    expect(unhandled).toEqual([])
    expect(g.workers).toHaveLength(2)
  })

  it('no agent: 0 workers, one stage:unplaceable, and the run completes once placement works', async () => {
    vi.useFakeTimers()
    let refuse = true
    const events: UnplaceableStage[] = []
    const scaled: unknown[] = []
    const run = start({ source: range(50), stages: [{ name: 'echo', module: 'e.mjs' }], sink: () => {}, equalizeMs: 100 }, grid({}, () => refuse ? new NoCapacityError([]) : undefined))
    run.on('stage:unplaceable', e => { events.push(e) })
    run.on('stage:scaled', e => { scaled.push(e) })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(run.stats().stages[0]).toMatchObject({ workers: 0, unplaceable: 'no agents in the grid', queued: 50 })
    expect(events).toEqual([{ stage: 'echo', reason: 'no agents in the grid', shortfalls: [] }])
    // the equalizer sees the wanted worker as starting: no scaling events while nothing can be placed
    expect(scaled).toEqual([])
    refuse = false
    await vi.advanceTimersByTimeAsync(5000)
    await expect(run.done).resolves.toMatchObject({ in: 50, out: 50 })
  })

  it('placementTimeoutMs: done rejects with NoCapacityError', async () => {
    vi.useFakeTimers()
    const run = start({ source: range(5), stages: [{ name: 'echo', module: 'e.mjs' }], sink: () => {}, placementTimeoutMs: 2000 }, grid({}, () => new NoCapacityError([])))
    const rejected = expect(run.done).rejects.toBeInstanceOf(NoCapacityError)
    await vi.advanceTimersByTimeAsync(2500)
    await rejected
  })

  it('a stage module that cannot be bundled fails the run at once, without placementTimeoutMs: no retry mends it', async () => {
    let attempts = 0
    const run = start({ source: range(5), stages: [{ name: 'resize', module: 'r.ts' }], sink: () => {} }, grid({}, () => { attempts++; return new StageBundleError('resize', 'helper.ts:3:8', 'Could not resolve "./gone.ts"') }))
    await expect(run.done).rejects.toMatchObject({ code: 'ERR_STAGE_BUNDLE', stage: 'resize' })
    expect(attempts).toBe(1)
  })

  it('an unreadable stage module fails the run with ConfigError naming module', async () => {
    const run = start({ source: range(5), stages: [{ name: 'echo', module: 'e.mjs' }], sink: () => {} }, grid({}, () => new ConfigError('module', 'cannot read stage module e.mjs: ENOENT')))
    await expect(run.done).rejects.toMatchObject({ code: 'ERR_CONFIG', option: 'module' })
  })

  it('options are checked once, naming the option', () => {
    const g = grid({})
    expect(() => start({ stages: [], sink: () => {} }, g)).toThrow(ConfigError)
    expect(() => start({ stages: [{ name: 'a', module: 'a.mjs' }], sink: () => {}, window: 32, maxWindow: 16 }, g)).toThrow(/maxWindow/)
    expect(() => start({ stages: [{ name: 'a', module: 'a.mjs' }], sink: () => {}, placementTimeoutMs: -1 }, g)).toThrow(/placementTimeoutMs/)
    expect(() => start({ stages: [{ name: 'a', module: 'a.mjs', minWorkers: 3, maxWorkers: 2 }], sink: () => {} }, g)).toThrow(/stages\[0\]\.maxWorkers/)
  })

  it('scaleStage refuses a workers count that is not a finite number (NaN passed every clamp and stuck in the stage)', () => {
    const run = start({ source: [], stages: [{ name: 'a', module: 'a.mjs', minWorkers: 0 }], sink: () => {}, equalize: false }, grid({}))
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, '2']) expect(() => run.scaleStage('a', bad as number)).toThrow(/^workers: must be a finite number/)
    expect(run.scaleStage('a', 1.4)).toBe(1)
    run.cancel()
  })

  it('a name that is not a string of 1-128 characters is a ConfigError naming it, before anything starts', () => {
    for (const bad of [5, '', 'x'.repeat(129)]) {
      expect(() => new PipelineRun(bad as string, { stages: [{ name: 'a', module: 'a.mjs' }], sink: () => {} }, grid({}), silent)).toThrow(/^name: must be a string/)
    }
  })
})
