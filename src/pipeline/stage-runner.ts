import type { WorkerHandle } from '../owner/worker-handle.ts'
import { adaptedWindow } from '../equalizer/window.ts'
import type { WorkerExit } from '../worker/ipc.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { EqualizedStage, StageRates, StageSample } from '../equalizer/index.ts'
import type { Logger } from '../logger.ts'
import { afterError, exitError } from './item-retry.ts'
import { SetupWatch } from './setup-watch.ts'
import { RemoteError } from '../errors.ts'
import { leastLoaded } from './worker-slot.ts'
import type { Slot } from './worker-slot.ts'
import { workerGone } from '../owner/worker-handle.ts'
import { RoomWaiters } from './downstream.ts'
import type { Downstream } from './downstream.ts'
import { StagePlacement } from './stage-placement.ts'
import { Fifo } from './fifo.ts'
import { stageTimeouts } from './item-timeouts.ts'
import type { ItemTimeouts } from './item-timeouts.ts'
import type { ResolvedStage, PipelineOptions } from './config.ts'
import type { Envelope, StageStats, StageSummary, UnplaceableStage } from './types.ts'
import type { StageEvents, StageInit } from './stage-types.ts'

export type { StageEvents, StageInit } from './stage-types.ts'

const NO_RATES: StageRates = { arrivalRate: 0, processingRate: 0, pressure: 'even' }

/**
 * One stage on the owner: a bounded queue (the `Downstream` its upstream
 * sees), workers each with a credit window, at-least-once retries, poison
 * isolation, and the only writer of the stage's counters. A result wakes this
 * stage (a credit is free) and its downstream (new items); the upstream is
 * woken only when it waited for room and room freed.
 */
export class StageRunner implements Downstream, EqualizedStage {
  readonly name: string
  readonly minWorkers: number
  readonly maxWorkers: number
  readonly resources: ResolvedStage['resources']
  readonly latencyObjectiveMs?: number
  readonly spareWorkers: number
  readonly concurrency: number
  private arrivalListener?: () => void
  private readonly downstream: Downstream
  private readonly events: StageEvents
  private readonly queue = new Fifo<Envelope>()
  private readonly slots = new Map<string, Slot>()
  private readonly waiters = new RoomWaiters()
  private readonly placement: StagePlacement
  private readonly log: Logger
  private readonly minWindow: number
  private readonly maxWindow: number
  readonly windowMs: number
  private readonly capacity: number
  private readonly maxAttempts: number
  /** The clocks of its items, with `itemTimeoutMs` only. */
  private readonly timeouts?: ItemTimeouts<Slot>
  /** The credit window now: `window` at first, then between minWindow and maxWindow (see adaptWindow). */
  private window: number
  private nextTicket = 0
  private closed = false
  private awaitingRoom = false
  /** Workers that ended in their setup since one was heard from. */
  private readonly setup = new SetupWatch()
  // cumulative counters, written here only (the equalizer reads them through `sample`)
  private arrivals = 0
  private busyMs = 0
  private blocks = 0
  private late = 0
  private readonly counts = { processed: 0, failed: 0, retried: 0, maxWorkers: 0, decisions: 0 }

  constructor (init: StageInit) {
    const { spec, options } = init
    this.name = spec.name
    this.minWorkers = spec.minWorkers
    this.maxWorkers = spec.maxWorkers
    this.resources = spec.resources
    this.latencyObjectiveMs = spec.latencyObjectiveMs
    this.spareWorkers = spec.spareWorkers
    this.concurrency = spec.concurrency
    // a worker always has room for as many items as it runs at once
    this.minWindow = Math.max(options.minWindow, spec.concurrency)
    this.maxWindow = Math.max(options.maxWindow, options.window, spec.concurrency)
    this.windowMs = options.windowMs
    this.window = Math.max(options.window, spec.concurrency)
    this.capacity = options.queueSize
    this.maxAttempts = options.maxAttempts
    this.downstream = init.downstream
    this.events = init.events
    const log = init.log.child({ stage: spec.name })
    this.log = log
    // a timed-out attempt is the item's own failure (no worker exit): retried up to maxAttempts, never a crash suspect
    this.timeouts = stageTimeouts(spec.name, spec.itemTimeoutMs, spec.concurrency, log)
    this.placement = new StagePlacement({
      stage: spec.name,
      spawn: async signal => await init.spawn(spec, signal),
      placed: (handle, owed) => { this.add(handle, owed) },
      running: () => this.workers,
      unplaceable: report => { this.events.unplaceable(report) },
      failed: err => { this.events.cannotStart(err) },
      timeoutMs: options.placementTimeoutMs,
      log
    })
  }

  /** Places the minimum workers; items queue meanwhile. */
  start (): void {
    this.placement.want(this.minWorkers)
  }

  /** Workers running (not draining, not lost): 0 while none could be placed. */
  get workers (): number {
    let n = 0
    for (const slot of this.slots.values()) if (!slot.draining && !slot.dead) n++
    return n
  }

  room (): number {
    return this.capacity - this.queue.length
  }

  accept (items: Envelope[]): void {
    for (const item of items) this.queue.push(item)
    this.arrivals += items.length
    this.dispatch()
    this.arrivalListener?.()
  }

  onArrival (listener: () => void): void {
    this.arrivalListener = listener
  }

  onRoomFreed (wake: () => void): void {
    if (this.closed) wake()
    else this.waiters.add(wake)
  }

  offRoomFreed (wake: () => void): void {
    this.waiters.remove(wake)
  }

  sample (now: number): StageSample {
    let busyMs = this.busyMs
    let inFlight = 0
    let waiting = this.queue.length
    for (const slot of this.slots.values()) {
      if (slot.busySince != null) busyMs += now - slot.busySince
      inFlight += slot.inflight.size
      waiting += Math.max(0, slot.inflight.size - this.concurrency)
    }
    return {
      arrivals: this.arrivals,
      processed: this.counts.processed,
      busyMs,
      upstreamWaits: this.waiters.waits,
      upstreamWaiting: this.waiters.size > 0,
      downstreamBlocks: this.blocks,
      downstreamBlocked: this.awaitingRoom && this.queue.length > 0,
      queued: this.queue.length,
      waiting,
      inFlight,
      workers: this.workers,
      starting: this.placement.pending
    }
  }

  /** The stage as `run.stats()` shows it, with the equalizer's rates when it runs. */
  stats (rates: StageRates = NO_RATES): StageStats {
    const sample = this.sample(performance.now())
    const stats: StageStats = { name: this.name, workers: sample.workers, ...rates, queued: sample.queued, inFlight: sample.inFlight, window: this.window }
    const why = this.placement.unplaceable
    if (why != null) stats.unplaceable = why
    return stats
  }

  totals (): StageSummary {
    return { name: this.name, ...this.counts }
  }

  /** Results that arrived for an item already given back to the queue, dropped. */
  get lateResults (): number {
    return this.late
  }

  /** The equalizer's decision: grow by placing workers, or drain (pending placements go first). */
  scale (delta: number): void {
    this.counts.decisions++
    if (delta > 0) {
      this.placement.want(delta)
      return
    }
    const removable = Math.max(0, this.workers + this.placement.pending - this.minWorkers)
    const count = Math.min(-delta, removable)
    const cancelled = this.placement.cancel(count)
    // spawns already under way cannot be given up, and the running workers never go below the floor for
    // them (should those spawns fail, the stage would be left short): their workers are drained as they land,
    // and one that fails is not tried again
    const now = Math.min(count - cancelled, Math.max(0, this.workers - this.minWorkers))
    this.placement.owe(count - cancelled - now)
    this.drain(now)
  }

  /**
   * Sizes the credit window to about `windowMs` of one worker's work at its measured rate (see
   * adaptedWindow). With a latency objective a window never holds more than the objective's worth of
   * work (but always one item on its way per item running): items waiting inside a worker cannot move
   * to a new one, so a burst would queue behind them. The default objective (defaultLatencyObjectiveMs)
   * does not cap it: a window of 4 costly items starved its worker when round trips stretched on a
   * loaded machine (bench:trace's daily trace: 16 workers fell behind 400 items/s).
   */
  adaptWindow (perWorkerRate: number): void {
    let next = adaptedWindow(this.window, perWorkerRate, { min: this.minWindow, max: this.maxWindow, holdMs: this.windowMs })
    if (this.latencyObjectiveMs != null && perWorkerRate > 0) {
      next = Math.min(next, Math.max(2 * this.concurrency, Math.floor(perWorkerRate * this.latencyObjectiveMs / 1000)))
    }
    if (next === this.window) return
    const grew = next > this.window
    this.window = next
    if (grew) this.dispatch()
  }

  async close (): Promise<void> {
    this.closed = true
    this.placement.close()
    this.waiters.wake()
    this.timeouts?.close()
    await Promise.allSettled([...this.slots.values()].map(async s => await s.handle.kill()))
  }

  /** A worker placed; `owed`: a scale-down came while it was being placed. */
  private add (handle: WorkerHandle, owed: boolean): void {
    if (this.closed) { void handle.kill(); return }
    const slot: Slot = { handle, inflight: new Map(), draining: false, dead: false, exclusive: false, stuck: 0 }
    this.slots.set(handle.id, slot)
    this.counts.maxWorkers = Math.max(this.counts.maxWorkers, this.workers)
    void handle.exited.then(exit => { this.onExit(slot, exit) }).catch((err: unknown) => { this.log.error({ err, worker: handle.id }, 'handling a worker\'s exit failed') })
    // drained now, before it takes an item (kept if the stage fell to its floor meanwhile)
    if (owed && this.workers > this.minWorkers) this.drain(1, slot)
    this.dispatch()
  }

  /** Drains `count` workers (`only` that one, or the emptiest first), killing each once its window is empty: never mid-item. */
  private drain (count: number, only?: Slot): void {
    const candidates = only != null ? [only] : [...this.slots.values()].filter(s => !s.draining && !s.dead).sort((a, b) => a.inflight.size - b.inflight.size)
    for (const slot of candidates.slice(0, Math.max(0, count))) {
      slot.draining = true
      if (slot.inflight.size === 0) void slot.handle.kill({ graceful: true })
    }
  }

  /** Sends queued items to workers with free credit while the downstream has room. */
  private dispatch (): void {
    if (this.closed || this.queue.length === 0) return
    if (this.downstream.room() <= 0) {
      this.blocks++
      if (!this.awaitingRoom) {
        this.awaitingRoom = true
        this.downstream.onRoomFreed(() => { this.awaitingRoom = false; this.dispatch() })
      }
      return
    }
    while (this.queue.length > 0) {
      const head = this.queue.peek()!
      // a crash suspect runs alone on an idle worker, so a second crash names it for certain
      const slot = leastLoaded(this.slots.values(), head.isolate === true ? 1 : this.window)
      if (slot == null) break
      if (head.isolate === true) slot.exclusive = true
      this.send(slot, this.queue.shift()!)
    }
    if (this.waiters.size > 0 && this.room() > 0) this.waiters.wake()
  }

  private send (slot: Slot, envelope: Envelope): void {
    if (slot.inflight.size === 0) slot.busySince = slot.headSince = performance.now()
    const ticket = this.nextTicket++
    slot.inflight.set(ticket, envelope)
    envelope.attempts++
    const options = this.timeouts?.options(slot, ticket, slot.inflight.size <= this.concurrency)
    const started = options?.onStart
    if (options != null) options.onStart = () => { if (this.setup.heard(slot)) this.keepFloor(); started?.() }
    // nobody holds this promise: what throws while settling is logged, never an unhandled rejection
    // an attempt that timed out fails with that once it is over, whatever it answered: only then may it run again
    slot.handle.process(envelope.value, options).then(
      result => { const timedOut = this.timeouts?.answered(ticket); if (timedOut != null) this.onError(slot, ticket, timedOut); else this.onResult(slot, ticket, result) },
      (err: Error) => { this.onError(slot, ticket, this.timeouts?.answered(ticket) ?? err) }
    ).catch((err: unknown) => { this.log.error({ err, item: envelope.id }, 'settling an item failed') })
  }

  /** Takes the item off its worker; undefined when it was already given back (a late settlement). */
  private settle (slot: Slot, ticket: number): Envelope | undefined {
    const envelope = slot.inflight.get(ticket)
    if (envelope == null) return undefined
    slot.inflight.delete(ticket)
    if (slot.inflight.size > 0) { slot.headSince = performance.now(); return envelope }
    slot.exclusive = false
    this.endBusy(slot)
    if (slot.draining && !slot.dead) void slot.handle.kill({ graceful: true })
    return envelope
  }

  private endBusy (slot: Slot): void {
    if (slot.busySince == null) return
    this.busyMs += performance.now() - slot.busySince
    slot.busySince = undefined
  }

  private onResult (slot: Slot, ticket: number, result: unknown): void {
    if (this.closed) return
    if (this.setup.heard(slot)) this.keepFloor()
    const envelope = this.settle(slot, ticket)
    if (envelope == null) { this.late++; return }
    this.handOn(envelope, result)
    this.dispatch()
  }

  /** An item's result to the downstream (an array fans out, undefined drops it); one it cannot take fails the item. */
  private handOn (envelope: Envelope, result: unknown): void {
    const values = result === undefined ? [] : Array.isArray(result) ? result : [result]
    try {
      // downstream first: if taking them throws, the run has counted none of them and the item fails whole
      if (values.length > 0) this.downstream.accept(values.map((value, k) => ({ id: values.length === 1 ? envelope.id : `${envelope.id}.${k}`, value, attempts: 0, crashes: 0 })))
    } catch (err) {
      this.log.error({ err, item: envelope.id, results: values.length }, 'the downstream could not take a result: the item fails')
      this.fail(envelope, err as Error)
      return
    }
    this.counts.processed++
    this.events.resulted(values.length, envelope)
  }

  private onError (slot: Slot, ticket: number, err: Error): void {
    // a closed stage's workers are being killed: what they drop is the run's end, not a failure
    if (this.closed) return
    // the stage's own error: the item ran, so the worker's setup works
    if (err instanceof RemoteError && this.setup.heard(slot)) this.keepFloor()
    const envelope = this.settle(slot, ticket)
    if (envelope == null) return
    if (workerGone(err) != null) slot.dead = true
    if (slot.killedForTimeout === true && workerGone(err) != null) {
      // the owner killed its worker for another item that ran past itemTimeoutMs: this one is not to blame
      // (no attempt counted, no loss excused: a few such kills must not make it a crash suspect)
      envelope.attempts--
      this.requeue(envelope)
      this.dispatch()
      return
    }
    const failure = afterError(envelope, err, this.maxAttempts)
    if (failure == null) this.requeue(envelope)
    else this.fail(envelope, failure)
    this.dispatch()
  }

  private fail (envelope: Envelope, err: Error): void {
    this.counts.failed++
    this.events.failed(envelope, toWireError(err))
  }

  private requeue (envelope: Envelope): void {
    this.counts.retried++
    this.queue.unshift(envelope)
  }

  private onExit (slot: Slot, exit: WorkerExit): void {
    // dead already: an item reported its worker gone, so it died by itself even if the run closed meanwhile
    const diedByItself = slot.dead || !this.closed
    slot.dead = true
    this.endBusy(slot)
    this.slots.delete(slot.handle.id)
    this.placement.workerGone()
    const detail = exit.error?.message ?? `code ${exit.code} signal ${exit.signal}`
    if (!this.closed && slot.inflight.size > 0) {
      // a handle that ended without settling its items: they go back now (last first, so the queue keeps
      // their order), and anything it says about them later is dropped; a timed-out attempt fails with that
      const err = exitError(slot.handle, exit)
      for (const ticket of [...slot.inflight.keys()].reverse()) this.onError(slot, ticket, this.timeouts?.failure(ticket) ?? err)
    }
    this.timeouts?.forget(slot)
    if (slot.draining || !diedByItself) return
    // a worker the owner killed for a timed-out item is no trouble of the grid's: replaced, not reported lost
    if (slot.killedForTimeout !== true) this.events.workerLost(slot.handle, detail)
    if (this.closed) return
    if (exit.setupFailed === true && this.setup.failed(this.slots.values()) === 'fail') {
      // the stage's own code fails before any item: its items would wait (they never ran, so no attempt
      // counts) while worker after worker starts and fails; the run fails with the stage's error instead
      this.events.cannotStart(exitError(slot.handle, exit))
      return
    }
    this.keepFloor()
  }

  /** Keeps the floor (the equalizer decides the rest), but not onto failing setups while a worker heard from runs (SetupWatch). */
  private keepFloor (): void {
    const missing = this.minWorkers - this.workers - this.placement.pending
    if (missing <= 0 || this.setup.holding(this.slots.values())) return
    this.events.respawning(this.minWorkers, missing)
    this.placement.want(missing)
  }
}
