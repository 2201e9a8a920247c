import type { StageContext, StageDefinition, TaskContext } from './stage.ts'
import type { WorkerItem, WorkerOutput } from './ipc.ts'
import { toWireError } from '../wire/wire-error.ts'
import { TaskCancelledError } from '../errors.ts'
import { boundedLogLine } from '../wire/task-log.ts'
import { LogRate } from './log-rate.ts'

/** What `process` returned is a promise (or any object with a `then`), to be waited for; anything else is the result itself. */
function isThenable (value: unknown): value is PromiseLike<unknown> {
  return value != null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}

/**
 * A task's ctx: the stage's fields, its progress and log, and its signal, made
 * on first read (an AbortController per task showed in the worker's profile).
 * A class rather than a spread object literal with a getter, which cost about
 * a microsecond per task, the largest share of a no-op task's work here.
 */
class TaskItemContext implements TaskContext {
  readonly stage: string
  readonly workerId: string
  readonly env: Record<string, string>
  readonly progress: (value: unknown) => void
  readonly log: (line: string) => void
  readonly #runner: ItemRunner
  readonly #id: number
  #signal?: AbortSignal

  constructor (ctx: StageContext, runner: ItemRunner, id: number, progress: (value: unknown) => void, log: (line: string) => void) {
    this.stage = ctx.stage
    this.workerId = ctx.workerId
    this.env = ctx.env
    this.progress = progress
    this.log = log
    this.#runner = runner
    this.#id = id
  }

  get signal (): AbortSignal {
    return (this.#signal ??= this.#runner.signalOf(this.#id))
  }
}

/** A task under this long, followed back to back by another, counts as quick (see ItemRunner). */
const QUICK_MS = 1
/**
 * After a task this long (the owner's STUCK_AFTER_MS, src/tasks/long-task.ts) nothing starts until the messages
 * that came meanwhile are read: one that blocked the event loop could not hear its owner take back the tasks
 * behind it, whose batch and cancels then arrive together.
 */
const RECALL_HEARD_AFTER_MS = 1000

/**
 * Runs a worker's items, at most `concurrency` at once, the rest waiting in
 * arrival order. A stage item gets the worker's shared context; a task item
 * its own, with an abort signal (`cancel`), a progress channel and a log
 * (bounded: see LogRate), and its start is reported. Progress is coalesced: of the values a task reports
 * within one turn of the event loop only the last goes out, so a task
 * reporting in a tight loop cannot flood its owner.
 *
 * A task's start goes out at once, before it runs (it may block the event
 * loop), except inside a run of quick tasks: one that starts back to back
 * after a task that took under QUICK_MS, within QUICK_MS of the last start
 * sent at once, has its start held back until the end of the turn, and a task
 * that ends before then sends none at all (its result says it ran; the owner
 * marks it running as the result comes in). Cheap tasks then cost one
 * message per turn and one entry each, not two messages and two entries; the
 * price is that a task which blocks the event loop right inside such a run
 * reports its start with its result.
 */
export class ItemRunner {
  private readonly definition: StageDefinition
  private readonly ctx: StageContext
  private readonly concurrency: number
  private readonly out: (output: WorkerOutput, now?: boolean) => void
  private readonly waiting: WorkerItem[] = []
  /** Tasks here (waiting or running), with their abort controller once one is needed (ctx.signal read, or a cancel). */
  private readonly controllers = new Map<number, AbortController | null>()
  private readonly progress = new Map<number, unknown>()
  private readonly logRates = new Map<number, LogRate>()
  /** Tasks started in a quick run whose start is not sent yet (see the class comment). */
  private readonly startsHeld = new Set<number>()
  private noticesScheduled = false
  private running = 0
  /** When a start was last sent at once (see the class comment). */
  private lastStartSent = -Infinity
  /** A long task just ended: nothing starts until what came meanwhile is read (see RECALL_HEARD_AFTER_MS). */
  private hearing = false

  /** `out(output, now)`: `now` asks for it to leave at once (a task about to run may block the event loop). */
  constructor (definition: StageDefinition, ctx: StageContext, concurrency: number, out: (output: WorkerOutput, now?: boolean) => void) {
    this.definition = definition
    this.ctx = ctx
    this.concurrency = Math.max(1, concurrency)
    this.out = out
  }

  accept (items: WorkerItem[]): void {
    for (const item of items) {
      this.waiting.push(item)
      if (item.task === true) this.controllers.set(item.id, null)
    }
    this.pump()
  }

  /** Aborts these tasks' signals; a task still waiting here ends at once, never started. */
  cancel (ids: number[]): void {
    for (const id of ids) {
      if (!this.controllers.has(id)) continue
      const controller = this.controllerOf(id)
      controller.abort(new TaskCancelledError(String(id), 'cancelled by its owner'))
      const at = this.waiting.findIndex(w => w.id === id)
      if (at >= 0) {
        this.waiting.splice(at, 1)
        this.controllers.delete(id)
        this.out({ id, error: toWireError(controller.signal.reason) })
      }
    }
  }

  /**
   * Starts what fits; `afterMs`: how long the item that just finished (and freed the room) took.
   * A `process` that returns a value (not a promise) is finished here and the next one started in
   * the same loop: no promise per item, and the same order as a promise chain would give.
   */
  private pump (afterMs?: number): void {
    if (afterMs != null && afterMs > RECALL_HEARD_AFTER_MS) this.hearRecallFirst()
    if (this.hearing) return
    let previousMs = afterMs
    while (this.running < this.concurrency && this.waiting.length > 0) {
      if (previousMs != null && previousMs > RECALL_HEARD_AFTER_MS) {
        this.hearRecallFirst()
        return
      }
      const next = this.waiting.shift()!
      this.running++
      const task = next.task === true
      // only tasks are timed (the quick-run rule) and report their start, before they run (they may block)
      if (task) this.started(next.id, previousMs)
      const begun = task ? performance.now() : undefined
      let result: unknown
      try {
        result = this.definition.process(next.item, task ? this.taskContext(next.id) : this.ctx)
      } catch (err) {
        this.ended(next.id, { id: next.id, error: toWireError(err) })
        previousMs = begun == null ? undefined : performance.now() - begun
        continue
      }
      if (isThenable(result)) {
        Promise.resolve(result).then(
          value => { this.ended(next.id, { id: next.id, value }); this.pump(begun == null ? undefined : performance.now() - begun) },
          (err: unknown) => { this.ended(next.id, { id: next.id, error: toWireError(err) }); this.pump(begun == null ? undefined : performance.now() - begun) }
        )
        continue
      }
      this.ended(next.id, { id: next.id, value: result })
      previousMs = begun == null ? undefined : performance.now() - begun
    }
  }

  /** Starts nothing until the messages that came meanwhile are read: two immediates later, so a poll for I/O comes in between. */
  private hearRecallFirst (): void {
    if (this.hearing) return
    this.hearing = true
    setImmediate(() => { setImmediate(() => { this.hearing = false; this.pump() }) })
  }

  /** An item's outcome: its task's last notices, then the outcome; its room is free again. */
  private ended (id: number, outcome: WorkerOutput): void {
    this.running--
    this.finish(id)
    this.out(outcome)
  }

  /** A task's start: sent at once (drained), or held inside a quick run. */
  private started (id: number, afterMs: number | undefined): void {
    if (this.startNow(afterMs)) this.out({ id, notice: 'started' }, true)
    else {
      this.startsHeld.add(id)
      this.scheduleNotices()
    }
  }

  /** Whether a start leaves at once, or with the batch at the end of a run of quick tasks. */
  private startNow (afterMs: number | undefined): boolean {
    const now = performance.now()
    if (afterMs != null && afterMs < QUICK_MS && now - this.lastStartSent < QUICK_MS) return false
    this.lastStartSent = now
    return true
  }

  /** The abort signal of task `id` (its controller made now if it was not yet): its ctx.signal. */
  signalOf (id: number): AbortSignal {
    return this.controllerOf(id).signal
  }

  /** The task's abort controller, made when first needed (most tasks never read their signal). */
  private controllerOf (id: number): AbortController {
    let controller = this.controllers.get(id)
    if (controller == null) {
      controller = new AbortController()
      if (this.controllers.has(id)) this.controllers.set(id, controller)
    }
    return controller
  }

  private taskContext (id: number): TaskContext {
    return new TaskItemContext(this.ctx, this, id, value => { this.report(id, value) }, line => { this.logLine(id, line) })
  }

  /** Log lines leave at once (in order with the task's result, which follows them); the task's budget bounds them. */
  private logLine (id: number, line: unknown): void {
    if (!this.controllers.has(id)) return
    let rate = this.logRates.get(id)
    if (rate == null) { rate = new LogRate(); this.logRates.set(id, rate) }
    // a start held back (a quick run) goes out before the task's first line, as before its progress
    if (this.startsHeld.delete(id)) this.out({ id, notice: 'started' })
    for (const admitted of rate.admit(boundedLogLine(line))) this.out({ id, notice: 'log', line: admitted })
  }

  private report (id: number, value: unknown): void {
    if (!this.controllers.has(id)) return
    this.progress.set(id, value)
    this.scheduleNotices()
  }

  private scheduleNotices (): void {
    if (this.noticesScheduled) return
    this.noticesScheduled = true
    setImmediate(() => { this.flushNotices() })
  }

  /** A task's start (if held) and last progress go out before its result; a held start of a task that ends unsent is dropped. */
  private finish (id: number): void {
    const progressed = this.progress.has(id)
    if (this.startsHeld.delete(id) && progressed) this.out({ id, notice: 'started' })
    if (progressed) {
      this.out({ id, notice: 'progress', value: this.progress.get(id) })
      this.progress.delete(id)
    }
    this.controllers.delete(id)
    this.logRates.delete(id)
  }

  /** At the end of a turn: held starts of tasks still running, then the last progress of each task. */
  private flushNotices (): void {
    this.noticesScheduled = false
    for (const id of this.startsHeld) this.out({ id, notice: 'started' })
    this.startsHeld.clear()
    for (const [id, value] of this.progress) this.out({ id, notice: 'progress', value })
    this.progress.clear()
  }
}
