import { describe, it, expect, afterEach, vi } from 'vitest'
import { ItemTimeouts } from '../../../src/pipeline/item-timeouts.ts'
import { StageRunner } from '../../../src/pipeline/stage-runner.ts'
import { resolvePipelineOptions } from '../../../src/pipeline/config.ts'
import { ConfigError, ERR_ITEM_TIMEOUT, ItemTimeoutError } from '../../../src/errors.ts'
import type { ProcessOptions, WorkerExit } from '../../../src/worker/ipc.ts'
import type { WireError } from '../../../src/wire/wire-error.ts'
import { FakeDownstream, FakeWorker, envelopes, flush, silent } from './fake-worker.ts'

afterEach(() => { vi.useRealTimers() })

describe('ItemTimeouts: the clocks of a stage\'s items', () => {
  function clocks (): { timeouts: ItemTimeouts<{ stuck: number }>, slot: { stuck: number }, expired: Array<[number, Error]>, overdue: number[] } {
    const expired: Array<[number, Error]> = []
    const overdue: number[] = []
    const timeouts = new ItemTimeouts<{ stuck: number }>({
      timeoutMs: 500,
      graceMs: 1000,
      error: () => new ItemTimeoutError('s', 500),
      expired: (_slot, ticket, err) => { expired.push([ticket, err]) },
      overdue: (_slot, ticket) => { overdue.push(ticket) }
    })
    return { timeouts, slot: { stuck: 0 }, expired, overdue }
  }

  it('an item that starts and never answers expires at the timeout (its signal aborted), then is overdue after the grace', () => {
    vi.useFakeTimers()
    const { timeouts, slot, expired, overdue } = clocks()
    const options = timeouts.options(slot, 7, true)
    expect(options.task).toBe(true)
    options.onStart!()
    vi.advanceTimersByTime(499)
    expect(expired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(expired.map(([t, err]) => [t, (err as ItemTimeoutError).code])).toEqual([[7, ERR_ITEM_TIMEOUT]])
    expect(options.signal!.aborted).toBe(true)
    expect(options.signal!.reason).toBe(expired[0]![1])
    expect(slot.stuck).toBe(1)
    vi.advanceTimersByTime(999)
    expect(overdue).toEqual([])
    vi.advanceTimersByTime(1)
    expect(overdue).toEqual([7])
  })

  it('an item waiting behind others on its worker is not timed until it starts there', () => {
    vi.useFakeTimers()
    const { timeouts, slot, expired } = clocks()
    const options = timeouts.options(slot, 1, false)
    vi.advanceTimersByTime(5000)
    expect(expired).toEqual([])
    options.onStart!()
    vi.advanceTimersByTime(500)
    expect(expired.map(([t]) => t)).toEqual([1])
  })

  it('a fresh worker\'s item is timed from its reported start (the worker may be in its setup); once heard from, one sent to a free slot from its send', () => {
    vi.useFakeTimers()
    const { timeouts, slot, expired } = clocks()
    const first = timeouts.options(slot, 1, true)
    vi.advanceTimersByTime(5000)
    expect(expired).toEqual([])
    first.onStart!()
    expect(timeouts.answered(1)).toBeUndefined()
    timeouts.options(slot, 2, true)
    vi.advanceTimersByTime(500)
    expect(expired.map(([t]) => t)).toEqual([2])
  })

  it('an answer starts the clocks of the items sent next to that worker that now run there (up to its concurrency), reported or not', () => {
    vi.useFakeTimers()
    const expired: number[] = []
    const timeouts = new ItemTimeouts<{ stuck: number }>({ timeoutMs: 500, concurrency: 2, error: () => new ItemTimeoutError('s', 500), expired: (_s, t) => { expired.push(t) }, overdue: () => {} })
    const slot = { stuck: 0 }
    const other = { stuck: 0 }
    timeouts.options(slot, 1, true).onStart!()
    timeouts.options(slot, 2, true).onStart!()
    timeouts.options(slot, 3, false)
    timeouts.options(other, 4, false)
    timeouts.options(slot, 5, false)
    vi.advanceTimersByTime(400)
    // item 1 done: item 3 runs now beside item 2 (its start held back by the worker); item 5 still waits
    timeouts.answered(1)
    vi.advanceTimersByTime(100)
    expect(expired).toEqual([2])
    vi.advanceTimersByTime(400)
    expect(expired).toEqual([2, 3])
    vi.advanceTimersByTime(5000)
    expect(expired).toEqual([2, 3])
  })

  it('an answer in time stops the clock; an answer in the grace frees the slot and is never overdue', () => {
    vi.useFakeTimers()
    const { timeouts, slot, expired, overdue } = clocks()
    const quick = timeouts.options(slot, 1, true)
    quick.onStart!()
    timeouts.options(slot, 2, true)
    expect(timeouts.answered(1)).toBeUndefined()
    vi.advanceTimersByTime(500)
    expect(quick.signal!.aborted).toBe(false)
    expect(expired.map(([t]) => t)).toEqual([2])
    expect(slot.stuck).toBe(1)
    // its attempt fails with the timeout whatever it answered
    expect(timeouts.answered(2)).toBe(expired[0]![1])
    expect(slot.stuck).toBe(0)
    vi.advanceTimersByTime(5000)
    expect(overdue).toEqual([])
    expect(timeouts.size).toBe(0)
  })
})

/** A fake worker that keeps the options each item was sent with, and whose kill says it was stopped (as an agent's). */
class TimedWorker extends FakeWorker {
  readonly options: ProcessOptions[] = []
  override async process (item: unknown, options: ProcessOptions = {}): Promise<unknown> {
    this.options.push(options)
    return await super.process(item)
  }

  override async kill (options: { graceful?: boolean } = {}): Promise<WorkerExit> {
    this.killed = options
    this.stop()
    return await this.exited
  }
}

function timedStage (spec: { itemTimeoutMs?: number, minWorkers?: number, maxWorkers?: number }, maxAttempts: number): { stage: StageRunner, workers: TimedWorker[], downstream: FakeDownstream, failed: Array<{ id: string, attempts: number, error: WireError }>, lost: string[] } {
  const resolved = resolvePipelineOptions({ stages: [{ name: 's', module: 's.mjs', maxWorkers: 1, ...spec }], sink: () => {}, maxAttempts, window: 4, maxWindow: 4 })
  const workers: TimedWorker[] = []
  const failed: Array<{ id: string, attempts: number, error: WireError }> = []
  const lost: string[] = []
  const downstream = new FakeDownstream()
  const stage = new StageRunner({
    spec: resolved.stages[0]!,
    options: resolved,
    downstream,
    spawn: async () => { const w = new TimedWorker('s', () => 'hold'); workers.push(w); return w },
    events: {
      resulted: () => {},
      failed: (e, error) => { failed.push({ id: e.id, attempts: e.attempts, error }) },
      workerLost: h => { lost.push(h.id) },
      respawning: () => {},
      unplaceable: () => {},
      cannotStart: () => {}
    },
    log: silent
  })
  return { stage, workers, downstream, failed, lost }
}

describe('StageRunner with itemTimeoutMs', () => {
  it('a hung item fails each attempt with ItemTimeoutError and then for good; its worker, still running it, is killed and replaced, and the items behind it run again with no attempt counted', async () => {
    vi.useFakeTimers()
    const { stage, workers, downstream, failed, lost } = timedStage({ itemTimeoutMs: 500 }, 2)
    stage.start()
    await flush()
    stage.accept(envelopes('hang', 'b', 'c'))
    const first = workers[0]!
    expect(first.held.map(c => c.item)).toEqual(['hang', 'b', 'c'])
    expect(first.options.every(o => o.task === true && o.signal != null)).toBe(true)
    first.options[0]!.onStart!()
    vi.advanceTimersByTime(500)
    await flush()
    // its signal is aborted; the attempt fails once it is over (not yet), and the worker, still running it, takes no other item
    expect(first.options[0]!.signal!.aborted).toBe(true)
    expect(failed).toEqual([])
    expect(stage.sample(performance.now())).toMatchObject({ queued: 0, inFlight: 3 })
    vi.advanceTimersByTime(1000)
    await flush()
    expect(first.killed).toEqual({})
    // killed by its owner for a timeout: replaced, not reported as a lost worker
    expect(lost).toEqual([])
    await vi.advanceTimersByTimeAsync(0)
    await flush()
    // replaced: the retry goes back first, then the two items that waited behind it (none of them charged)
    const second = workers[1]!
    expect(second.held.map(c => c.item)).toEqual(['hang', 'b', 'c'])
    second.options[0]!.onStart!()
    vi.advanceTimersByTime(500)
    await flush()
    expect(failed).toEqual([])
    second.held.shift()!.reject(second.options[0]!.signal!.reason as Error)
    await flush()
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ id: '1', attempts: 2, error: { code: ERR_ITEM_TIMEOUT } })
    second.release()
    second.release()
    await flush()
    expect(downstream.accepted.map(e => e.value).sort()).toEqual(['b', 'c'])
    await stage.close()
  })

  it('the items a worker killed for a timeout held go back with no attempt counted and no loss excused, and no worker is reported lost', async () => {
    vi.useFakeTimers()
    const { stage, workers, lost, failed } = timedStage({ itemTimeoutMs: 500 }, 1)
    stage.start()
    await flush()
    const [hung, innocent] = envelopes('hang', 'b')
    stage.accept([hung!, innocent!])
    const first = workers[0]!
    first.options[0]!.onStart!()
    vi.advanceTimersByTime(1500)
    await flush()
    expect(first.killed).toEqual({})
    await vi.advanceTimersByTimeAsync(0)
    await flush()
    expect(failed.map(f => [f.id, f.error.code])).toEqual([['1', ERR_ITEM_TIMEOUT]])
    // on the new worker: its first counted attempt
    expect(innocent).toMatchObject({ attempts: 1, crashes: 0 })
    expect(innocent!.excused ?? 0).toBe(0)
    expect(innocent!.isolate).toBeUndefined()
    expect(lost).toEqual([])
    expect(workers[1]!.held.map(c => c.item)).toEqual(['b'])
    await stage.close()
  })

  it('a timed-out item runs again only once its attempt is over: never beside it on another worker', async () => {
    vi.useFakeTimers()
    const { stage, workers, failed } = timedStage({ itemTimeoutMs: 500, minWorkers: 2, maxWorkers: 2 }, 2)
    stage.start()
    await flush()
    stage.accept(envelopes('hang'))
    const [busy, idle] = [workers.find(w => w.held.length > 0)!, workers.find(w => w.held.length === 0)!]
    busy.options[0]!.onStart!()
    vi.advanceTimersByTime(500)
    await flush()
    // timed out, its signal aborted, but still running: the idle worker is not given the retry
    expect(busy.options[0]!.signal!.aborted).toBe(true)
    expect(idle.seen).toEqual([])
    vi.advanceTimersByTime(900)
    await flush()
    expect(idle.seen).toEqual([])
    // it gives up within the grace: its attempt is over, the retry runs
    busy.held.shift()!.reject(busy.options[0]!.signal!.reason as Error)
    await flush()
    expect([...busy.seen, ...idle.seen]).toEqual(['hang', 'hang'])
    expect(busy.killed).toBeUndefined()
    expect(failed).toEqual([])
    await stage.close()
  })

  it('an item that waited on its worker behind a quick one is timed from that one\'s answer, even if its own start never comes (it blocks the worker\'s event loop)', async () => {
    vi.useFakeTimers()
    const { stage, workers, failed } = timedStage({ itemTimeoutMs: 500 }, 1)
    stage.start()
    await flush()
    stage.accept(envelopes('quick', 'blocks'))
    const worker = workers[0]!
    worker.options[0]!.onStart!()
    worker.release()
    await flush()
    vi.advanceTimersByTime(500)
    await flush()
    expect(worker.options[1]!.signal!.aborted).toBe(true)
    worker.held.shift()!.reject(worker.options[1]!.signal!.reason as Error)
    await flush()
    expect(failed.map(f => [f.id, f.error.code])).toEqual([['2', ERR_ITEM_TIMEOUT]])
    await stage.close()
  })

  it('a hung item that gives up on its signal frees its worker, which is not killed and goes on with the next items', async () => {
    vi.useFakeTimers()
    const { stage, workers, downstream, failed, lost } = timedStage({ itemTimeoutMs: 500 }, 1)
    stage.start()
    await flush()
    stage.accept(envelopes('hang', 'b'))
    const worker = workers[0]!
    worker.options[0]!.onStart!()
    vi.advanceTimersByTime(500)
    await flush()
    // the stage honours its signal: it throws the reason within the grace, and only then is the attempt failed
    expect(failed).toEqual([])
    worker.held.shift()!.reject(worker.options[0]!.signal!.reason as Error)
    await flush()
    expect(failed.map(f => f.error.code)).toEqual([ERR_ITEM_TIMEOUT])
    worker.release()
    await flush()
    vi.advanceTimersByTime(5000)
    await flush()
    expect(worker.killed).toBeUndefined()
    expect(lost).toEqual([])
    expect(downstream.accepted.map(e => e.value)).toEqual(['b'])
    expect(failed).toHaveLength(1)
    await stage.close()
  })

  it('without itemTimeoutMs items are sent as before: no signal, no clock', async () => {
    const { stage, workers } = timedStage({}, 1)
    stage.start()
    await flush()
    stage.accept(envelopes('a'))
    expect(workers[0]!.options).toEqual([{}])
    await stage.close()
  })

  it('itemTimeoutMs is checked like the other stage options', () => {
    for (const bad of [0, -1, 'soon', Number.POSITIVE_INFINITY, 1e12]) {
      expect(() => resolvePipelineOptions({ stages: [{ name: 's', module: 's.mjs', itemTimeoutMs: bad as number }], sink: () => {} })).toThrow(ConfigError)
    }
    expect(resolvePipelineOptions({ stages: [{ name: 's', module: 's.mjs', itemTimeoutMs: 500 }], sink: () => {} }).stages[0]!.itemTimeoutMs).toBe(500)
  })
})
