import type { WorkerHandle } from '../owner/worker-handle.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { WireError } from '../wire/wire-error.ts'
import type { Envelope, StageSpec, Pressure } from './types.ts'
import type { Logger } from '../logger.ts'
import { ERR_AGENT_LOST, ERR_WORKER_EXITED, PoisonItemError } from '../errors.ts'

/** A stage that could not get a worker tries again this often. */
const FLOOR_RETRY_MS = 1000

export interface StageHooks {
  spawn: (spec: StageSpec) => Promise<WorkerHandle>
  /** Results of one item (already split into a fan-out list); the next stage or the sink takes them. */
  output: (from: Envelope, values: unknown[]) => void
  /** Whether the next stage (or sink) has room: dispatch pauses while it has none. */
  downstreamHasRoom: () => boolean
  failed: (envelope: Envelope, error: WireError) => void
  workerLost: (handle: WorkerHandle, detail: string) => void
  scaled: (workers: number, delta: number) => void
}

interface Slot {
  handle: WorkerHandle
  inflight: Envelope[]
  draining: boolean
  dead: boolean
  /** Running one isolated item, alone: it takes nothing else meanwhile. */
  exclusive: boolean
  busySince?: number
}

/**
 * One stage on the owner: a bounded queue, workers each with a credit window,
 * at-least-once retries, and the measurements the equalizer needs (arrivals,
 * processed items and busy time: DS2's "useful time", idle and blocked excluded).
 */
export class StageRunner {
  readonly spec: Required<Pick<StageSpec, 'name' | 'module' | 'minWorkers' | 'maxWorkers' | 'concurrency'>> & StageSpec
  readonly queue: Envelope[] = []
  private readonly slots = new Map<string, Slot>()
  private readonly hooks: StageHooks
  private readonly log: Logger
  /** The credit window now: between the configured window and maxWindow (see adaptWindow). */
  window: number
  private readonly minWindow: number
  private readonly maxWindow: number
  private readonly windowMs: number
  private readonly capacity: number
  private readonly maxAttempts: number
  private spawning = 0
  private closed = false
  // counters the equalizer samples and resets each tick
  arrivals = 0
  processedInTick = 0
  busyMsInTick = 0
  blockedInTick = false
  saturatedInTick = false
  pressure: Pressure = 'even'
  totals = { processed: 0, failed: 0, retried: 0, maxWorkers: 0, decisions: 0 }

  constructor (spec: StageSpec, options: { window: number, maxWindow: number, windowMs: number, queueSize: number, maxAttempts: number }, hooks: StageHooks, log: Logger) {
    this.spec = { ...spec, minWorkers: spec.minWorkers ?? 1, maxWorkers: spec.maxWorkers ?? Math.max(spec.minWorkers ?? 1, 64), concurrency: spec.concurrency ?? 1 }
    this.minWindow = Math.max(options.window, this.spec.concurrency)
    this.maxWindow = Math.max(options.maxWindow, this.minWindow)
    this.windowMs = options.windowMs
    this.window = this.minWindow
    this.capacity = options.queueSize
    this.maxAttempts = options.maxAttempts
    this.hooks = hooks
    this.log = log.child({ stage: spec.name })
  }

  get workers (): number {
    return [...this.slots.values()].filter(s => !s.draining && !s.dead).length
  }

  get starting (): number {
    return this.spawning
  }

  get inFlight (): number {
    let n = 0
    for (const slot of this.slots.values()) n += slot.inflight.length
    return n
  }

  hasRoom (): boolean {
    return this.queue.length < this.capacity
  }

  /** Items from upstream; `front` for retries, which go before new work. */
  enqueue (envelopes: Envelope[], front = false): void {
    if (front) this.queue.unshift(...envelopes)
    else {
      this.queue.push(...envelopes)
      this.arrivals += envelopes.length
    }
    this.dispatch()
  }

  /** Starts `count` workers (placement picks the agents). */
  async grow (count: number): Promise<void> {
    await Promise.all(Array.from({ length: Math.max(0, count) }, async () => {
      this.spawning++
      try {
        const handle = await this.hooks.spawn(this.spec)
        if (this.closed) { void handle.kill(); return }
        const slot: Slot = { handle, inflight: [], draining: false, dead: false, exclusive: false }
        this.slots.set(handle.id, slot)
        this.totals.maxWorkers = Math.max(this.totals.maxWorkers, this.workers)
        void handle.exited.then(exit => { this.onExit(slot, exit.error?.message ?? `code ${exit.code} signal ${exit.signal}`) })
      } catch (err) {
        this.log.warn({ err }, 'could not start a worker; retrying while below minWorkers')
        if (!this.closed) setTimeout(() => { this.keepFloor() }, FLOOR_RETRY_MS).unref()
      } finally {
        this.spawning--
      }
    }))
    this.dispatch()
  }

  /** Spawns what is missing below minWorkers (after a failed spawn or a lost worker). */
  keepFloor (): void {
    if (this.closed) return
    const missing = this.spec.minWorkers - this.workers - this.spawning
    if (missing <= 0) return
    this.hooks.scaled(this.spec.minWorkers, missing)
    void this.grow(missing)
  }

  /** Drains `count` workers (the emptiest first), killing each once its window is empty: never mid-item. */
  shrink (count: number): void {
    const candidates = [...this.slots.values()].filter(s => !s.draining && !s.dead).sort((a, b) => a.inflight.length - b.inflight.length)
    for (const slot of candidates.slice(0, Math.max(0, Math.min(count, this.workers - this.spec.minWorkers)))) {
      slot.draining = true
      if (slot.inflight.length === 0) void slot.handle.kill({ graceful: true })
    }
  }

  async close (): Promise<void> {
    this.closed = true
    await Promise.allSettled([...this.slots.values()].map(async s => await s.handle.kill()))
  }

  /** Sends queued items to workers with free credit while the downstream has room. */
  dispatch (): void {
    if (this.closed) return
    if (!this.hooks.downstreamHasRoom()) {
      if (this.queue.length > 0) this.blockedInTick = true
      return
    }
    while (this.queue.length > 0) {
      const head = this.queue[0]!
      // a crash suspect runs alone on an idle worker, so a second crash names it for certain
      const slot = this.leastLoaded(head.isolate === true ? 1 : this.window)
      if (slot == null) break
      if (head.isolate === true) slot.exclusive = true
      this.send(slot, this.queue.shift()!)
    }
  }

  /** The open worker with the fewest items in flight, below `limit`: items spread evenly, latency stays flat. */
  private leastLoaded (limit: number): Slot | undefined {
    let best: Slot | undefined
    for (const slot of this.slots.values()) {
      if (slot.draining || slot.dead || slot.exclusive || slot.inflight.length >= limit) continue
      if (best == null || slot.inflight.length < best.inflight.length) best = slot
      if (best.inflight.length === 0) break
    }
    return best
  }

  /**
   * Sizes the credit window to hold about `windowMs` of one worker's work at
   * its measured rate (a bandwidth-delay product with a latency budget): cheap
   * items then cross each hop in large batches instead of 16 per round trip,
   * while costly items keep the configured window and spread over workers.
   */
  adaptWindow (perWorkerRate: number): void {
    if (!(perWorkerRate > 0)) return
    const next = Math.min(this.maxWindow, Math.max(this.minWindow, Math.ceil(perWorkerRate * this.windowMs / 1000)))
    if (next === this.window) return
    const grew = next > this.window
    this.window = next
    if (grew) this.dispatch()
  }

  /** Starts the next equalizer tick's counters. */
  resetTick (): void {
    this.arrivals = 0
    this.processedInTick = 0
    this.busyMsInTick = 0
    this.blockedInTick = false
    this.saturatedInTick = false
  }

  /** Busy time so far in this tick, for workers busy right now. */
  sampleBusy (now: number): void {
    for (const slot of this.slots.values()) {
      if (slot.busySince != null) {
        this.busyMsInTick += now - slot.busySince
        slot.busySince = now
      }
    }
  }

  private send (slot: Slot, envelope: Envelope): void {
    if (slot.inflight.length === 0) slot.busySince = performance.now()
    slot.inflight.push(envelope)
    envelope.attempts++
    slot.handle.process(envelope.value).then(
      result => { this.settle(slot, envelope); this.onResult(envelope, result) },
      (err: Error & { code?: string }) => { this.onError(slot, envelope, err) }
    )
  }

  private settle (slot: Slot, envelope: Envelope): void {
    const i = slot.inflight.indexOf(envelope)
    if (i >= 0) slot.inflight.splice(i, 1)
    if (slot.inflight.length === 0) slot.exclusive = false
    if (slot.inflight.length === 0 && slot.busySince != null) {
      this.busyMsInTick += performance.now() - slot.busySince
      slot.busySince = undefined
      if (slot.draining) void slot.handle.kill({ graceful: true })
    }
  }

  private onResult (envelope: Envelope, result: unknown): void {
    this.processedInTick++
    this.totals.processed++
    const values = result === undefined ? [] : Array.isArray(result) ? result : [result]
    this.hooks.output(envelope, values)
    this.dispatch()
  }

  private onError (slot: Slot, envelope: Envelope, err: Error & { code?: string }): void {
    const lost = err.code === ERR_WORKER_EXITED || err.code === ERR_AGENT_LOST
    if (lost && !slot.dead) this.markDead(slot)
    if (err.code === ERR_WORKER_EXITED) {
      // every item in flight is a suspect; from now on each runs alone, so only
      // the culprit can crash a worker a second time (innocents then succeed alone)
      envelope.crashes++
      envelope.isolate = true
    }
    this.settle(slot, envelope)
    if (lost && envelope.crashes < 2) {
      // not the item's fault (or not proven yet): run it elsewhere, before new work
      envelope.attempts--
      this.totals.retried++
      this.enqueue([envelope], true)
    } else if (!lost && envelope.attempts < this.maxAttempts) {
      this.totals.retried++
      this.enqueue([envelope], true)
    } else {
      this.totals.failed++
      const error = toWireError(lost ? new PoisonItemError(err) : err)
      this.hooks.failed(envelope, error)
    }
    this.dispatch()
  }

  private markDead (slot: Slot): void {
    slot.dead = true
  }

  private onExit (slot: Slot, detail: string): void {
    if (!slot.dead) this.markDead(slot)
    this.slots.delete(slot.handle.id)
    if (this.closed || slot.draining) return
    this.hooks.workerLost(slot.handle, detail)
    // keep the floor; the equalizer decides the rest
    this.keepFloor()
  }
}
