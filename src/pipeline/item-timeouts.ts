import type { ProcessOptions } from '../worker/ipc.ts'
import type { Logger } from '../logger.ts'
import { ItemTimeoutError } from '../errors.ts'
import type { Slot } from './worker-slot.ts'

/** How long a timed-out item's worker has to give the item up (its ctx.signal aborted) before it is killed: the tasks' cancelGraceMs. */
export const ITEM_TIMEOUT_GRACE_MS = 1000

export interface ItemTimeoutsInit<S extends { stuck: number }> {
  timeoutMs: number
  graceMs?: number
  /** Items a worker runs at once (the stage's concurrency): those behind them wait there, untimed. */
  concurrency?: number
  /** What a timed-out attempt fails with, and its signal is aborted with. */
  error: () => Error
  /** The attempt of item `ticket` on `slot` ran past timeoutMs (failed with `err` once it is over; its signal is aborted next). */
  expired?: (slot: S, ticket: number, err: Error) => void
  /** The worker still ran that item after the grace: kill it. */
  overdue: (slot: S, ticket: number) => void
}

interface Timed<S extends { stuck: number }> {
  slot: S
  controller: AbortController
  timer?: NodeJS.Timeout
  /** Starts its clock (once). */
  start: () => void
  /** Past its timeout: what its attempt fails with once it is over (answered, or its worker gone). */
  failure?: Error
}

/**
 * The clocks of one stage's items (`itemTimeoutMs`). An item's clock starts when it starts on its worker:
 * when the worker says so, or as it is sent to a worker with a free slot that was heard from before (a stage
 * that blocks its event loop right after a quick item never reports that start; a worker not heard from
 * may still be in its setup), or when an item ahead of it on that worker is answered and it is among the
 * first `concurrency` left there (a start the worker held back behind quick items may never come if the
 * item then blocks its event loop); never while the item waits there behind others. At the timeout its
 * signal is aborted (the worker's ctx.signal); its attempt fails with the timeout only once it is over
 * (answered, or its worker gone), so a retry never runs beside it; a worker that has not answered for it
 * `graceMs` later is `overdue`. Kept apart from the stage runner, which only settles items.
 */
export class ItemTimeouts<S extends { stuck: number }> {
  private readonly timed = new Map<number, Timed<S>>()
  /** Slots whose worker reported a start or answered an item: past their setup. */
  private readonly heard = new WeakSet<S>()
  private readonly timeoutMs: number
  private readonly graceMs: number
  private readonly concurrency: number
  private readonly init: ItemTimeoutsInit<S>

  constructor (init: ItemTimeoutsInit<S>) {
    this.init = init
    this.timeoutMs = init.timeoutMs
    this.graceMs = init.graceMs ?? ITEM_TIMEOUT_GRACE_MS
    this.concurrency = Math.max(1, init.concurrency ?? 1)
  }

  /** Items timed and not answered by their worker (expired ones included). */
  get size (): number {
    return this.timed.size
  }

  /**
   * What `process` is given for item `ticket`: sent as a task item, so the worker gives it its own ctx.signal
   * and reports its start. `freeSlot`: the worker runs fewer than its concurrency, so the item starts on arrival.
   */
  options (slot: S, ticket: number, freeSlot: boolean): ProcessOptions {
    const entry: Timed<S> = {
      slot,
      controller: new AbortController(),
      start: () => {
        this.heard.add(slot)
        if (entry.timer != null || this.timed.get(ticket) !== entry) return
        entry.timer = setTimeout(() => { this.expire(ticket, entry) }, this.timeoutMs)
      }
    }
    this.timed.set(ticket, entry)
    if (freeSlot && this.heard.has(slot)) entry.start()
    return { task: true, signal: entry.controller.signal, onStart: entry.start }
  }

  /**
   * The worker answered for `ticket`: its clocks stop, and the items it sent that slot next, now among the
   * first `concurrency` there, are started. The timeout error when it had expired: its attempt failed with
   * that whatever it answered, and its slot may take items again.
   */
  answered (ticket: number): Error | undefined {
    const entry = this.timed.get(ticket)
    if (entry == null) return undefined
    this.timed.delete(ticket)
    clearTimeout(entry.timer)
    this.heard.add(entry.slot)
    if (entry.failure != null) entry.slot.stuck--
    this.startNext(entry.slot)
    return entry.failure
  }

  /** What the attempt of `ticket` fails with if it timed out (its worker went before answering), else undefined. */
  failure (ticket: number): Error | undefined {
    return this.timed.get(ticket)?.failure
  }

  /** Stops the clocks of the items of `slot` (its worker is gone). */
  forget (slot: S): void {
    for (const [ticket, entry] of this.timed) {
      if (entry.slot !== slot) continue
      clearTimeout(entry.timer)
      this.timed.delete(ticket)
    }
  }

  close (): void {
    for (const entry of this.timed.values()) clearTimeout(entry.timer)
    this.timed.clear()
  }

  /** The worker runs its items in the order sent: the first `concurrency` it holds run now, whether or not it said so. */
  private startNext (slot: S): void {
    let ahead = 0
    for (const entry of this.timed.values()) {
      if (entry.slot !== slot) continue
      if (++ahead > this.concurrency) return
      entry.start()
    }
  }

  private expire (ticket: number, entry: Timed<S>): void {
    const err = this.init.error()
    entry.failure = err
    // held from new items until its worker answers or is gone: the item's retry waits for its attempt to end
    entry.slot.stuck++
    entry.timer = setTimeout(() => {
      if (this.timed.get(ticket) === entry) this.init.overdue(entry.slot, ticket)
    }, this.graceMs)
    this.init.expired?.(entry.slot, ticket, err)
    entry.controller.abort(err)
  }
}

/**
 * A stage's item clocks, none without `itemTimeoutMs`: a timed-out attempt fails (through the stage's
 * settlement) once its worker answers for it or is gone; a worker still running it a grace after its signal
 * was aborted is killed, and the other items it held run again with no attempt counted and none excused
 * (the owner stopped it, for another item), while the stage replaces it, reporting no lost worker.
 */
export function stageTimeouts (stage: string, timeoutMs: number | undefined, concurrency: number, log: Logger): ItemTimeouts<Slot> | undefined {
  if (timeoutMs == null) return undefined
  return new ItemTimeouts<Slot>({
    timeoutMs,
    concurrency,
    error: () => new ItemTimeoutError(stage, timeoutMs),
    overdue: slot => {
      if (slot.dead) return
      slot.dead = true
      slot.killedForTimeout = true
      log.warn({ worker: slot.handle.id, agent: slot.handle.agentId, timeoutMs }, 'an item ran past itemTimeoutMs and went on after its signal was aborted: killing its worker')
      void slot.handle.kill()
    }
  })
}
