import { describe, it, expect, afterEach, vi } from 'vitest'
import { StageRunner } from '../../../src/pipeline/stage-runner.ts'
import { resolvePipelineOptions } from '../../../src/pipeline/config.ts'
import type { WireError } from '../../../src/wire/wire-error.ts'
import { ERR_AGENT_LOST, ERR_POISON_ITEM, ERR_WORKER_EXITED, NoCapacityError, RemoteError } from '../../../src/errors.ts'
import { toWireError } from '../../../src/wire/wire-error.ts'
import { FakeDownstream, FakeWorker, envelopes, flush, silent, unhandledDuring } from './fake-worker.ts'
import type { Behaviour } from './fake-worker.ts'
import { SinkLink } from '../../../src/pipeline/sink-link.ts'
import type { Downstream } from '../../../src/pipeline/downstream.ts'
import { harness, hold } from './stage-runner-harness.ts'

afterEach(() => { vi.useRealTimers() })

describe('StageRunner with stub workers: crashes, placement, scaling down', () => {
  it('a poison item: the first crash makes every item in flight a suspect that runs alone; the second crash fails only the culprit', async () => {
    const { stage, events, workers, downstream } = harness({ spec: { minWorkers: 2 }, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes('a', 'poison', 'b', 'c'))
    // spread over the two workers: a, b on the first; poison, c on the second
    const victim = workers.find(w => w.held.some(c => c.item === 'poison'))!
    const victimItems = victim.held.map(c => c.item)
    victim.crash()
    await flush()
    expect(events.lost).toEqual([victim.id])
    expect(events.respawning).toEqual([[2, 1]])
    expect(workers).toHaveLength(3)
    // the items of the worker that did not crash are no suspects: they finish as usual
    const bystander = workers.find(w => w !== victim && w.held.length > 0)!
    while (bystander.held.some(c => !victimItems.includes(c.item))) bystander.release()
    // each suspect runs alone on an idle worker; the innocent one succeeds alone
    for (;;) {
      await flush()
      const running = workers.filter(w => w.held.length > 0)
      if (running.length === 0) break
      for (const w of running) {
        expect(w.held.length).toBe(1)
        if (w.held[0]!.item === 'poison') w.crash()
        else w.release()
      }
    }
    await flush()
    expect(events.failed.map(f => [f.item, f.error.name])).toEqual([['poison', 'PoisonItemError']])
    expect(downstream.accepted.map(e => e.value).sort()).toEqual(['a', 'b', 'c'])
    expect(victimItems).toContain('poison')
  })

  it.each([ERR_AGENT_LOST, ERR_WORKER_EXITED])('a stage error carrying code %s is the item\'s own: retried to maxAttempts, then failed; the worker stays', async (code) => {
    const forged = (): never => { throw new RemoteError({ name: 'Error', message: 'mine', code }) }
    const { stage, events, workers, downstream } = harness({ maxAttempts: 3, behaviour: item => item === 'bad' ? forged() : item })
    stage.start()
    await flush()
    stage.accept(envelopes('bad', 'ok'))
    for (let i = 0; i < 5; i++) await flush()
    expect(events.failed).toEqual([expect.objectContaining({ item: 'bad', attempts: 3, error: expect.objectContaining({ code, message: 'mine' }) })])
    expect(workers).toHaveLength(1)
    expect(workers[0]!.seen.filter(i => i === 'bad')).toHaveLength(3)
    expect(workers[0]!.killed).toBeUndefined()
    expect(events.lost).toEqual([])
    expect(stage.sample(performance.now()).workers).toBe(1)
    expect(downstream.accepted.map(e => e.value)).toEqual(['ok'])
  })

  it('a worker dying of an uncaught error with code ERR_AGENT_LOST counts as a crash: its poison item fails, it does not loop', async () => {
    const forged = toWireError(new RemoteError({ name: 'Error', message: 'uncaught', code: ERR_AGENT_LOST }))
    const { stage, events, workers } = harness({ behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes('poison'))
    for (let round = 0; round < 10 && events.failed.length === 0; round++) {
      await flush()
      const running = workers.find(w => w.held.length > 0)
      running?.crash('code 70', forged)
      await flush()
    }
    expect(events.failed.map(f => [f.item, f.error.code])).toEqual([['poison', ERR_POISON_ITEM]])
    expect(workers).toHaveLength(3)
  })

  it('a lost agent: its items in flight go back to the queue and run on another worker, without using an attempt', async () => {
    const { stage, events, workers, downstream } = harness({ spec: { minWorkers: 2 }, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes(1, 2, 3, 4))
    const [lostOne, other] = workers as [FakeWorker, FakeWorker]
    const moved = lostOne.held.map(c => c.item)
    lostOne.lose()
    await flush()
    expect(events.lost).toEqual([lostOne.id])
    expect(stage.totals().retried).toBe(moved.length)
    while (workers.some(w => w.held.length > 0)) {
      for (const w of workers) while (w.held.length > 0) w.release()
      await flush()
    }
    expect(downstream.accepted.map(e => e.value).sort()).toEqual([1, 2, 3, 4])
    expect(other.seen).toEqual(expect.arrayContaining(moved))
    expect(events.failed).toEqual([])
  })

  it.each(['settling', 'without settling'])('an agent that stops its worker %s its items, twice in a row (rolling restarts): they run again, no crash counted, none failed', async (how) => {
    const { stage, events, workers, downstream } = harness({ behaviour: hold })
    stage.start()
    await flush()
    const items = envelopes('a', 'b')
    stage.accept(items)
    for (let restart = 0; restart < 2; restart++) {
      const running = workers[workers.length - 1]!
      expect(running.held.map(c => c.item)).toEqual(['a', 'b'])
      if (how === 'settling') running.stop()
      else running.vanish({ code: 0, signal: null, stopped: true })
      await flush()
    }
    const last = workers[workers.length - 1]!
    // not suspects of a crash: they run together, not one at a time
    expect(last.held.map(c => c.item)).toEqual(['a', 'b'])
    last.release()
    last.release()
    await flush()
    expect(events.failed).toEqual([])
    expect(downstream.accepted.map(e => e.value)).toEqual(['a', 'b'])
    // each ran three times, and counts one attempt and no crash
    expect(items.map(e => [e.attempts, e.crashes, e.isolate ?? false])).toEqual([[1, 0, false], [1, 0, false]])
    expect(workers).toHaveLength(3)
  })

  it('a worker that ends without settling its items: they are re-queued at once (as crash suspects), and its late answers are dropped', async () => {
    const { stage, workers, downstream } = harness({ spec: { minWorkers: 1 }, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes('x', 'y'))
    const first = workers[0]!
    const stuck = [...first.held]
    first.vanish()
    await flush()
    const second = workers[1]!
    // suspects of a crash run one at a time
    expect(second.held.map(c => c.item)).toEqual(['x'])
    second.release()
    await flush()
    expect(second.held.map(c => c.item)).toEqual(['y'])
    second.release()
    for (const call of stuck) call.resolve(call.item)
    await flush()
    expect(downstream.accepted.map(e => e.value)).toEqual(['x', 'y'])
    expect(stage.lateResults).toBe(2)
  })

  it('holds its queue while the downstream is full, and counts that as blocked', async () => {
    const { stage, workers, downstream } = harness({ behaviour: hold })
    downstream.free = 0
    stage.start()
    await flush()
    stage.accept(envelopes(1, 2))
    expect(workers[0]!.held).toHaveLength(0)
    expect(stage.sample(performance.now())).toMatchObject({ queued: 2, downstreamBlocked: true, downstreamBlocks: 1 })
    expect(downstream.waiting).toBe(1)
    downstream.free = 10
    downstream.drain()
    expect(workers[0]!.held).toHaveLength(2)
    expect(stage.sample(performance.now()).downstreamBlocked).toBe(false)
  })

  it('an upstream that found the stage full is woken once room frees, and counted as waiting', async () => {
    const { stage, workers } = harness({ queueSize: 2, window: 1, maxWindow: 1, behaviour: hold })
    stage.start()
    await flush()
    stage.accept(envelopes(1, 2, 3))
    expect(stage.room()).toBe(0)
    let woken = 0
    stage.onRoomFreed(() => { woken++ })
    expect(stage.sample(performance.now())).toMatchObject({ upstreamWaits: 1, upstreamWaiting: true })
    workers[0]!.release()
    await flush()
    expect(woken).toBe(1)
    expect(stage.sample(performance.now()).upstreamWaiting).toBe(false)
  })

  it('nothing to place on: 0 workers, one unplaceable report naming why, retries backing off, then placed once an agent has room', async () => {
    vi.useFakeTimers()
    let refusal: Error | undefined = new NoCapacityError([])
    const { stage, events, spawns, workers } = harness({ placement: () => refusal })
    stage.start()
    await vi.advanceTimersByTimeAsync(0)
    expect(stage.stats()).toMatchObject({ workers: 0, unplaceable: 'no agents in the grid' })
    expect(events.unplaceable).toEqual([{ stage: 's', reason: 'no agents in the grid', shortfalls: [] }])
    // 250, 500, 1000, 2000, 4000, then every 5000: 7 tries in the first 13 s, not one a second
    await vi.advanceTimersByTimeAsync(12_900)
    expect(spawns()).toBe(7)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(spawns()).toBe(9)
    expect(events.unplaceable).toHaveLength(1)
    expect(stage.sample(performance.now())).toMatchObject({ workers: 0, starting: 1 })
    refusal = new NoCapacityError([{ agentId: 'agent-1', lacks: ['cpu: needs 1, has 0 free'] }])
    await vi.advanceTimersByTimeAsync(10_000)
    // the report repeats at most every 30 s while it lasts, with what each agent lacks
    expect(events.unplaceable.map(e => e.reason)).toEqual(['no agents in the grid', 'agent-1 lacks cpu: needs 1, has 0 free'])
    refusal = undefined
    await vi.advanceTimersByTimeAsync(5000)
    expect(workers).toHaveLength(1)
    expect(stage.stats().workers).toBe(1)
    expect(stage.stats().unplaceable).toBeUndefined()
    expect(events.timedOut).toEqual([])
  })

  it('placementTimeoutMs: a stage with no worker that cannot be placed for that long reports NoCapacityError', async () => {
    vi.useFakeTimers()
    const { stage, events } = harness({ placementTimeoutMs: 3000, placement: () => new NoCapacityError([]) })
    stage.start()
    await vi.advanceTimersByTimeAsync(2900)
    expect(events.timedOut).toEqual([])
    await vi.advanceTimersByTimeAsync(200)
    expect(events.timedOut).toHaveLength(1)
    expect(events.timedOut[0]).toBeInstanceOf(NoCapacityError)
  })

  it('placementTimeoutMs runs from when the stage lost its last worker, not from the start of the placement trouble', async () => {
    vi.useFakeTimers()
    // minWorkers 2 on a grid that fits one: placement fails from the start, while one worker runs
    let placed = 0
    const { stage, events, workers } = harness({ spec: { minWorkers: 2 }, placementTimeoutMs: 60_000, placement: () => placed++ >= 1 ? new NoCapacityError([]) : undefined })
    stage.start()
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(stage.stats()).toMatchObject({ workers: 1, unplaceable: 'no agents in the grid' })
    // ten minutes in, the one worker's agent dies: the stage has no worker from now on
    workers[0]!.lose()
    await vi.advanceTimersByTimeAsync(55_000)
    expect(stage.stats().workers).toBe(0)
    expect(events.timedOut).toEqual([])
    await vi.advanceTimersByTimeAsync(6000)
    expect(events.timedOut).toHaveLength(1)
    expect(events.timedOut[0]).toBeInstanceOf(NoCapacityError)
  })

  it('scaling down gives up pending placements first, then drains the emptiest workers, never below minWorkers', async () => {
    const { stage, workers } = harness({ spec: { minWorkers: 1, maxWorkers: 8 }, behaviour: hold })
    stage.start()
    await flush()
    stage.scale(2)
    await flush()
    expect(stage.sample(performance.now()).workers).toBe(3)
    stage.accept(envelopes(1))
    const busy = workers.find(w => w.held.length > 0)!
    stage.scale(-5)
    await flush()
    expect(workers.filter(w => w.killed != null)).toHaveLength(2)
    expect(busy.killed).toBeUndefined()
    expect(stage.totals().decisions).toBe(2)
    expect(stage.sample(performance.now()).workers).toBe(1)
  })

  it('scaling down never drains running workers below minWorkers for spawns still under way (they cannot be given up): those are drained as they land', async () => {
    let gate: Promise<void> | undefined
    let open = (): void => {}
    const { stage, workers } = harness({ spec: { minWorkers: 2, maxWorkers: 8 }, behaviour: hold, spawnGate: async () => { await gate } })
    stage.start()
    await flush()
    expect(stage.sample(performance.now()).workers).toBe(2)
    gate = new Promise(resolve => { open = resolve })
    stage.scale(2)
    await flush()
    expect(stage.sample(performance.now())).toMatchObject({ workers: 2, starting: 2 })
    stage.scale(-2)
    await flush()
    expect(workers.filter(w => w.killed != null)).toHaveLength(0)
    // the two still being placed are not wanted any more
    expect(stage.sample(performance.now())).toMatchObject({ workers: 2, starting: 0 })
    open()
    await flush()
    expect(workers.slice(2).map(w => w.killed != null)).toEqual([true, true])
    expect(stage.sample(performance.now())).toMatchObject({ workers: 2, starting: 0 })
    // a scale-up while a drain is owed gives the drain up first
    gate = new Promise(resolve => { open = resolve })
    stage.scale(2)
    await flush()
    stage.scale(-1)
    stage.scale(1)
    open()
    await flush()
    expect(stage.sample(performance.now())).toMatchObject({ workers: 4, starting: 0 })
  })
})

describe('StageRunner handing results on', () => {
  /** A stage whose one worker answers with `behaviour`, in front of `downstream`; what it reports is recorded. */
  function stageInFront (downstream: Downstream, behaviour: Behaviour): { stage: StageRunner, resulted: number[], failed: WireError[] } {
    const resolved = resolvePipelineOptions({ stages: [{ name: 's', module: 's.mjs' }], sink: () => {} })
    const resulted: number[] = []
    const failed: WireError[] = []
    const stage = new StageRunner({
      spec: resolved.stages[0]!,
      options: resolved,
      downstream,
      spawn: async () => new FakeWorker('s', behaviour),
      events: {
        resulted: n => { resulted.push(n) },
        failed: (_, error) => { failed.push(error) },
        workerLost: () => {},
        respawning: () => {},
        unplaceable: () => {},
        cannotStart: () => {}
      },
      log: silent
    })
    return { stage, resulted, failed }
  }

  it('a fan-out of 300,000 values reaches the sink whole (a spread of them into the queue overflowed the stack)', async () => {
    let delivered = 0
    const sink = new SinkLink(() => { delivered++ }, 256, '', { delivered: () => {}, refused: (_, err) => { throw err }, failed: err => { throw err } })
    const { stage, resulted, failed } = stageInFront(sink, () => Array.from({ length: 300_000 }, (_, i) => i))
    const unhandled = await unhandledDuring(async () => {
      stage.start()
      await flush()
      stage.accept(envelopes('fan'))
      await vi.waitFor(() => { expect(delivered).toBe(300_000) }, { timeout: 10_000 })
    })
    expect(unhandled).toEqual([])
    expect(resulted).toEqual([300_000])
    expect(failed).toEqual([])
    expect(stage.totals()).toMatchObject({ processed: 1, failed: 0 })
  })

  it('a run handler that throws while an error or an exit settles (item failed, worker lost) is logged, never an unhandled rejection', async () => {
    const resolved = resolvePipelineOptions({ stages: [{ name: 's', module: 's.mjs' }], sink: () => {}, maxAttempts: 1 })
    const workers: FakeWorker[] = []
    const stage = new StageRunner({
      spec: resolved.stages[0]!,
      options: resolved,
      downstream: new FakeDownstream(),
      spawn: async () => {
        const worker = new FakeWorker('s', item => { if (item === 'bad') throw new RangeError('bad item'); return 'hold' })
        workers.push(worker)
        return worker
      },
      events: {
        resulted: () => {},
        failed: () => { throw new Error('a bug in the run') },
        workerLost: () => { throw new Error('a bug in the run') },
        respawning: () => {},
        unplaceable: () => {},
        cannotStart: () => {}
      },
      log: silent
    })
    const unhandled = await unhandledDuring(async () => {
      stage.start()
      await flush()
      stage.accept(envelopes('bad', 'held'))
      await flush()
      workers[0]!.crash()
      await flush()
    })
    expect(unhandled).toEqual([])
    expect(stage.totals()).toMatchObject({ failed: 1 })
  })

  it('a result the downstream cannot take fails its item, reported, and the stage goes on', async () => {
    const refusing: Downstream = {
      room: () => 1,
      accept: items => { if (items.some(e => e.value === 'bad')) throw new RangeError('cannot take it') },
      onRoomFreed: () => {}
    }
    const { stage, resulted, failed } = stageInFront(refusing, item => item)
    const unhandled = await unhandledDuring(async () => {
      stage.start()
      await flush()
      stage.accept(envelopes('bad', 'good'))
      await flush()
    })
    expect(unhandled).toEqual([])
    expect(failed).toEqual([expect.objectContaining({ name: 'RangeError', message: 'cannot take it' })])
    expect(resulted).toEqual([1])
    expect(stage.totals()).toMatchObject({ processed: 1, failed: 1 })
  })
})
