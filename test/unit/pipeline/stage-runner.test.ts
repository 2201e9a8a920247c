import { describe, it, expect, afterEach, vi } from 'vitest'
import { StageRunner } from '../../../src/pipeline/stage-runner.ts'
import { ERR_STAGE_SETUP, NoCapacityError, RemoteError } from '../../../src/errors.ts'
import { toWireError } from '../../../src/wire/wire-error.ts'
import { envelopes, flush } from './fake-worker.ts'
import { harness, hold } from './stage-runner-harness.ts'

afterEach(() => { vi.useRealTimers() })

describe('StageRunner with stub workers', () => {
  it('keeps at most a credit window in flight per worker; a result frees one credit', async () => {
    const { stage, workers, downstream } = harness({ window: 4, maxWindow: 4, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes(...Array.from({ length: 10 }, (_, i) => i)))
    expect(workers[0]!.held.map(c => c.item)).toEqual([0, 1, 2, 3])
    expect(stage.sample(performance.now())).toMatchObject({ queued: 6, inFlight: 4, workers: 1, arrivals: 10 })
    workers[0]!.release()
    await flush()
    expect(downstream.accepted.map(e => e.value)).toEqual([0])
    expect(workers[0]!.held.map(c => c.item)).toEqual([1, 2, 3, 4])
    expect(stage.totals()).toMatchObject({ processed: 1, failed: 0, retried: 0, maxWorkers: 1 })
  })

  it('the window starts at `window`, grows to ~windowMs of work at once, and shrinks to it (at least minWindow) once that is under a quarter of the window', async () => {
    const { stage, workers } = harness({ minWindow: 2, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes(...Array.from({ length: 40 }, (_, i) => i)))
    expect(workers[0]!.held).toHaveLength(16)
    // costly items (~15 ms each, 70/s): 10 ms of work is under one item, so the floor of 2 holds
    stage.adaptWindow(70)
    expect(stage.stats().window).toBe(2)
    for (let i = 0; i < 16; i++) workers[0]!.release()
    await flush()
    expect(workers[0]!.held).toHaveLength(2)
    // cheap items (50 k/s): 500 items hold 10 ms, and the window grows to them
    stage.adaptWindow(50_000)
    expect(stage.stats().window).toBe(500)
    await flush()
    expect(workers[0]!.held).toHaveLength(24)
    // it shrinks only when the work held falls under a quarter of the window (a slow link must not collapse it)
    stage.adaptWindow(30_000) // 300 items of work: within [125, 500), the window stays
    expect(stage.stats().window).toBe(500)
    stage.adaptWindow(10_000) // 100 items of work: under a quarter, it shrinks to them
    expect(stage.stats().window).toBe(100)
  })

  it('an item that must wait behind another goes to the worker whose current item started first (it frees first)', async () => {
    const { stage, workers } = harness({ window: 2, maxWindow: 2, spec: { minWorkers: 3, maxWorkers: 3 }, behaviour: hold })
    stage.start()
    await flush()
    const pause = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 5)) }
    for (const item of [0, 1, 2]) { stage.accept(envelopes(item)); await pause() }
    expect(workers.map(w => w.held.map(c => c.item))).toEqual([[0], [1], [2]])
    // the first worker frees and takes the next item: now the second one has been busy longest
    workers[0]!.release()
    await flush()
    stage.accept(envelopes(3))
    await pause()
    expect(workers[0]!.held.map(c => c.item)).toEqual([3])
    stage.accept(envelopes(4))
    expect(workers.map(w => w.held.map(c => c.item))).toEqual([[3], [1, 4], [2]])
    stage.accept(envelopes(5))
    expect(workers.map(w => w.held.map(c => c.item))).toEqual([[3], [1, 4], [2, 5]])
  })

  it('by default the window never shrinks below where it starts (the default latency objective does not cap it)', () => {
    const { stage } = harness({ behaviour: hold })
    stage.adaptWindow(70)
    expect(stage.stats().window).toBe(16)
    stage.adaptWindow(50_000)
    expect(stage.stats().window).toBe(500)
  })

  it('a latency objective caps the window at its worth of work; waiting counts items queued in windows behind the running ones', async () => {
    const { stage, workers } = harness({ spec: { latencyObjectiveMs: 100, concurrency: 1 }, behaviour: hold })
    const arrivals: number[] = []
    stage.onArrival(() => { arrivals.push(stage.sample(performance.now()).arrivals) })
    stage.start()
    await flush()
    stage.adaptWindow(30) // 30/s: 100 ms is 3 items
    expect(stage.stats().window).toBe(3)
    stage.accept(envelopes(1, 2, 3, 4, 5))
    expect(workers[0]!.held.map(c => c.item)).toEqual([1, 2, 3])
    // 2 queued, 2 behind the running item in the window
    expect(stage.sample(performance.now())).toMatchObject({ queued: 2, waiting: 4, inFlight: 3 })
    expect(arrivals).toEqual([5])
    stage.adaptWindow(5) // never below one running and one on its way
    expect(stage.stats().window).toBe(2)
    expect(() => harness({ spec: { latencyObjectiveMs: 0 } })).toThrow(/latencyObjectiveMs/)
  })

  it('maxWindow equal to window pins the window, for costly items too', () => {
    const { stage } = harness({ window: 16, maxWindow: 16, behaviour: hold })
    stage.adaptWindow(70)
    expect(stage.stats().window).toBe(16)
    stage.adaptWindow(50_000)
    expect(stage.stats().window).toBe(16)
  })

  it('retries an item whose process throws, up to maxAttempts, then reports it failed with the error', async () => {
    const { stage, events, workers } = harness({ maxAttempts: 3, behaviour: item => { if (item === 'bad') throw new RangeError('no'); return item } })
    stage.start()
    await flush()
    stage.accept(envelopes('ok', 'bad'))
    await flush()
    expect(workers[0]!.seen.filter(i => i === 'bad')).toHaveLength(3)
    expect(events.failed).toHaveLength(1)
    expect(events.failed[0]).toMatchObject({ item: 'bad', attempts: 3, error: { name: 'RangeError', message: 'no' } })
    expect(stage.totals()).toMatchObject({ processed: 1, failed: 1, retried: 2 })
    expect(events.resulted).toEqual([1])
  })

  it('workers ending in their setup: their items never ran (no attempt, no suspect) and wait; three in a row fail the run with the stage\'s setup error', async () => {
    const { stage, events, workers } = harness({ spec: { minWorkers: 1 }, behaviour: hold, maxAttempts: 1 })
    stage.start()
    await flush()
    stage.accept(envelopes('a', 'b'))
    const setupError = toWireError(new RangeError('no config file'))
    for (let k = 1; k <= 2; k++) {
      workers.at(-1)!.failSetup(setupError)
      await flush()
      // a replacement is asked for; the items wait for it, neither failed nor suspects
      expect(workers).toHaveLength(k + 1)
      expect(events.failed).toEqual([])
      expect(events.timedOut).toEqual([])
    }
    expect(workers.at(-1)!.held.map(c => c.item)).toEqual(['a', 'b'])
    workers.at(-1)!.failSetup(setupError)
    await flush()
    expect(events.timedOut).toHaveLength(1)
    expect(events.timedOut[0]).toMatchObject({ code: ERR_STAGE_SETUP, cause: expect.objectContaining({ message: 'no config file' }) })
    expect(events.failed).toEqual([])
    // no fourth worker for a stage whose code fails before any item
    expect(workers).toHaveLength(3)
  })

  it('setups failing (one bad agent) do not fail the run while a worker heard from runs a long item; once none is left, they do', async () => {
    const { stage, events, workers } = harness({ spec: { minWorkers: 1, maxWorkers: 8 }, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes('quick', 'long'))
    const healthy = workers[0]!
    // it answers 'quick': its setup works; 'long' runs on
    healthy.release()
    await flush()
    stage.scale(3)
    await flush()
    expect(workers).toHaveLength(4)
    for (const worker of workers.slice(1)) worker.failSetup()
    await flush()
    expect(events.timedOut).toEqual([])
    expect(stage.sample(performance.now())).toMatchObject({ workers: 1, starting: 0 })
    // the healthy worker gone, its item runs on a new worker, whose setup failing too fails the run
    healthy.crash()
    await flush()
    expect(workers).toHaveLength(5)
    workers.at(-1)!.failSetup()
    await flush()
    expect(events.timedOut).toHaveLength(1)
    expect(events.timedOut[0]).toMatchObject({ code: ERR_STAGE_SETUP })
  })

  it('after three failed setups beside a worker heard from, the floor is not respawned onto them until a worker is heard from again', async () => {
    const { stage, events, workers } = harness({ spec: { minWorkers: 2 }, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes('quick', 'long'))
    const healthy = workers.find(w => w.held.length > 0)!
    healthy.release()
    await flush()
    for (let k = 0; k < 3; k++) {
      workers.filter(w => w !== healthy).at(-1)!.failSetup()
      await flush()
    }
    // two respawned, the third failure holds the floor: no fork loop onto the failing setups
    expect(workers).toHaveLength(4)
    expect(stage.sample(performance.now())).toMatchObject({ workers: 1, starting: 0 })
    // 'long', given back by each failed worker, runs on the healthy one now; its answer restores the floor
    expect(healthy.held.map(c => c.item)).toEqual(['long'])
    healthy.release()
    await flush()
    expect(workers).toHaveLength(5)
    expect(events.timedOut).toEqual([])
  })

  it('a worker whose item throws the stage\'s own error is heard from too: the setup count starts over', async () => {
    const { stage, events, workers } = harness({ spec: { minWorkers: 1 }, behaviour: hold, maxAttempts: 10 })
    stage.start()
    await flush()
    stage.accept(envelopes('a'))
    for (let k = 0; k < 3; k++) {
      workers.at(-1)!.failSetup()
      await flush()
      workers.at(-1)!.failSetup()
      await flush()
      // the third worker runs the item, which throws: its setup works; then its agent stops it
      workers.at(-1)!.held.shift()!.reject(new RemoteError({ name: 'Error', message: 'bad row' }))
      await flush()
      workers.at(-1)!.stop()
      await flush()
    }
    expect(events.timedOut).toEqual([])
  })

  it('a setup failure is forgotten once an item completes: only failures in a row fail the run', async () => {
    const { stage, events, workers } = harness({ spec: { minWorkers: 1 }, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes('a', 'b', 'c'))
    for (let k = 0; k < 4; k++) {
      workers.at(-1)!.failSetup()
      await flush()
      workers.at(-1)!.failSetup()
      await flush()
      // the third worker starts and completes an item: the count starts over
      workers.at(-1)!.release()
      await flush()
      if (k < 2) stage.accept(envelopes(`x${k}`))
    }
    expect(events.timedOut).toEqual([])
  })

  it('a spawn under way that a scale-down gave up and that then fails is dropped, not retried for ever (nor failing the run at placementTimeoutMs)', async () => {
    vi.useFakeTimers()
    // the grid fits one worker: the second spawn takes 300 ms, then finds no room
    const { stage, events, spawns, workers } = harness({
      spec: { minWorkers: 0, maxWorkers: 4 },
      placementTimeoutMs: 3000,
      spawnGate: async () => { if (spawns() > 1) await new Promise(resolve => setTimeout(resolve, 300)) },
      placement: () => spawns() > 1 ? new NoCapacityError([]) : undefined
    })
    stage.start()
    stage.scale(1)
    await vi.advanceTimersByTimeAsync(0)
    expect(workers).toHaveLength(1)
    stage.scale(1)
    await vi.advanceTimersByTimeAsync(100)
    // while the second is under way the stage wants neither
    stage.scale(-2)
    await vi.advanceTimersByTimeAsync(20_000)
    expect(spawns()).toBe(2)
    expect(stage.stats().unplaceable).toBeUndefined()
    expect(stage.sample(performance.now())).toMatchObject({ workers: 0, starting: 0 })
    expect(events.unplaceable).toEqual([])
    expect(events.timedOut).toEqual([])
  })
})
