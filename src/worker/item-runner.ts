import type { StageContext, StageDefinition, TaskContext } from './stage.ts'
import type { WorkerItem, WorkerOutput } from './ipc.ts'
import { toWireError } from '../wire/wire-error.ts'
import { TaskCancelledError } from '../errors.ts'
import { boundedLogLine } from '../wire/task-log.ts'
import { LogRate } from './log-rate.ts'

/**
 * Runs a worker's items, at most `concurrency` at once, the rest waiting in
 * arrival order. A stage item gets the worker's shared context; a task item
 * its own, with an abort signal (`cancel`), a progress channel and a log
 * (bounded: see LogRate), and its start is reported. Progress is coalesced: of the values a task reports
 * within one turn of the event loop only the last goes out, so a task
 * reporting in a tight loop cannot flood its owner.
 */
export class ItemRunner {
  private readonly definition: StageDefinition
  private readonly ctx: StageContext
  private readonly concurrency: number
  private readonly out: (output: WorkerOutput, now?: boolean) => void
  private readonly waiting: WorkerItem[] = []
  private readonly controllers = new Map<number, AbortController>()
  private readonly progress = new Map<number, unknown>()
  private readonly logRates = new Map<number, LogRate>()
  private progressScheduled = false
  private running = 0

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
      if (item.task === true) this.controllers.set(item.id, new AbortController())
    }
    this.pump()
  }

  /** Aborts these tasks' signals; a task still waiting here ends at once, never started. */
  cancel (ids: number[]): void {
    for (const id of ids) {
      const controller = this.controllers.get(id)
      if (controller == null) continue
      controller.abort(new TaskCancelledError(String(id), 'cancelled by its owner'))
      const at = this.waiting.findIndex(w => w.id === id)
      if (at >= 0) {
        this.waiting.splice(at, 1)
        this.controllers.delete(id)
        this.out({ id, error: toWireError(controller.signal.reason) })
      }
    }
  }

  private pump (): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const next = this.waiting.shift()!
      this.running++
      const ctx = next.task === true ? this.taskContext(next.id) : this.ctx
      if (next.task === true) this.out({ id: next.id, notice: 'started' }, true)
      Promise.resolve()
        .then(() => this.definition.process(next.item, ctx))
        .then(
          value => { this.finish(next.id); this.out({ id: next.id, value }) },
          err => { this.finish(next.id); this.out({ id: next.id, error: toWireError(err) }) }
        )
        .finally(() => { this.running--; this.pump() })
    }
  }

  private taskContext (id: number): TaskContext {
    const signal = this.controllers.get(id)?.signal ?? new AbortController().signal
    return { ...this.ctx, signal, progress: value => { this.report(id, value) }, log: line => { this.logLine(id, line) } }
  }

  /** Log lines leave at once (in order with the task's result, which follows them); the task's budget bounds them. */
  private logLine (id: number, line: unknown): void {
    if (!this.controllers.has(id)) return
    let rate = this.logRates.get(id)
    if (rate == null) { rate = new LogRate(); this.logRates.set(id, rate) }
    for (const admitted of rate.admit(boundedLogLine(line))) this.out({ id, notice: 'log', line: admitted })
  }

  private report (id: number, value: unknown): void {
    if (!this.controllers.has(id)) return
    this.progress.set(id, value)
    if (this.progressScheduled) return
    this.progressScheduled = true
    setImmediate(() => { this.flushProgress() })
  }

  /** A task's last progress goes out before its result. */
  private finish (id: number): void {
    if (this.progress.has(id)) {
      this.out({ id, notice: 'progress', value: this.progress.get(id) })
      this.progress.delete(id)
    }
    this.controllers.delete(id)
    this.logRates.delete(id)
  }

  private flushProgress (): void {
    this.progressScheduled = false
    for (const [id, value] of this.progress) this.out({ id, notice: 'progress', value })
    this.progress.clear()
  }
}
