import { checkOption, checkSignalOption, shown } from '../checks/check.ts'
import type { SignalOption } from '../checks/check.ts'
import { stageName } from '../checks/values.ts'
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { StageRunner } from './stage-runner.ts'
import type { StageEvents } from './stage-runner.ts'
import { SinkLink } from './sink-link.ts'
import type { Downstream } from './downstream.ts'
import { resolvePipelineOptions } from './config.ts'
import type { PipelineOptions } from './config.ts'
import type { Envelope, FailedItem, PipelineInit, PipelineSummary, StageSpec, StageStats, StageSummary, UnplaceableStage } from './types.ts'
import type { WorkerHandle } from '../owner/worker-handle.ts'
import type { SpawnOptions } from '../owner/workers.ts'
import { EqualizerLoop } from '../equalizer/index.ts'
import { ConfigError, PipelineCancelledError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { EntryAcks } from './entry-acks.ts'
import { DeadLetters } from './dead-letters.ts'
import { isDurableSource, isDurableSink } from '../connectors/types.ts'
import { TroubleLog } from './trouble-log.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { WireError } from '../wire/wire-error.ts'

export interface PipelineRunEvents {
  'item:failed': [FailedItem]
  'stage:scaled': [{ stage: string, workers: number, delta: number, reason: string }]
  /** The workers last added did not raise the stage's capacity (items/s before → after): at most `workers` for `holdMs`, the surplus drained. */
  'stage:held': [{ stage: string, workers: number, holdMs: number, capacityBefore: number, capacityAfter: number }]
  'stage:unplaceable': [UnplaceableStage]
  'worker:lost': [{ stage: string, workerId: string, agentId: string, detail: string }]
}

/** What a run needs from the grid: workers, and how many more would fit. */
export interface PipelineGrid {
  spawn: (options: SpawnOptions, context: { signal: AbortSignal }) => Promise<WorkerHandle>
  capacity: (resources: StageSpec['resources'], limit: number) => number
}

/**
 * One run of a pipeline owned by this node: the entry feeds the first stage
 * while it has room, each stage hands its results to the next link (the sink
 * last), and `done` resolves with a summary once every item is through (or
 * failed). The run only counts what is still inside; the links move items.
 * `In` is what it takes (`push`, the source), `Out` what its sink gets, as `node.pipeline<In, Out>` typed them.
 * No member holds an `Out` (the sink does), so it is declared covariant (`out`): without it a
 * PipelineRun<In, string> would pass for a PipelineRun<In, number>. Any run is a PipelineRun (unknown, unknown).
 */
export class PipelineRun<In = unknown, out Out = unknown> extends EventEmitter<PipelineRunEvents> {
  readonly name: string
  readonly done: Promise<PipelineSummary>
  private readonly options: PipelineOptions
  private readonly stages: StageRunner[]
  private readonly sink: SinkLink
  private readonly equalizer?: EqualizerLoop
  /** With a durable source: its entries with items inside, acknowledged as they empty. */
  private readonly acks?: EntryAcks
  private readonly deadLetters?: DeadLetters
  private readonly reading = new AbortController()
  private readonly log: Logger
  /** This run's own scope, `run-<random>/`: a durable sink's for a source that is not durable, and pushed items' beside a durable one. */
  private readonly runScope: string
  /** Items inside the pipeline: admitted or fanned out, and not yet delivered, dropped or failed. */
  private outstanding = 0
  /** Results the durable sink refused (it could not encode them): failed items, beside the stages' own. */
  private sinkRefused = 0
  private pulled = 0
  private inputEnded = false
  private finished = false
  private readonly startedAt = performance.now()
  /** Failed items and lost workers, rate-limited per stage. */
  private readonly trouble: TroubleLog
  /** Removed when the run ends: a long-lived signal (a deployment's, over its relaunches) must not keep every ended run. */
  private readonly onAbort = (): void => { this.cancel() }
  private resolveDone: (s: PipelineSummary) => void = () => {}
  private rejectDone: (e: Error) => void = () => {}

  constructor (name: string, init: PipelineInit<In, Out>, grid: PipelineGrid, log: Logger) {
    super()
    checkOption('name', stageName, name)
    this.options = resolvePipelineOptions(init as PipelineInit)
    this.name = name
    this.done = new Promise((resolve, reject) => { this.resolveDone = resolve; this.rejectDone = reject })
    this.done.catch(() => {})
    const plog = log.child({ pipeline: name })
    this.log = plog
    this.trouble = new TroubleLog(plog)
    const source = this.options.source
    if (isDurableSource(source)) this.acks = new EntryAcks(id => { source.ack(id) })
    // a durable sink dedupes by id: the source's scope, or this run's own for a source that is not durable
    // (its items are numbered 1, 2, … in every run: without it a second run into one sink wrote nothing)
    this.runScope = `run-${randomBytes(6).toString('hex')}/`
    const scope = isDurableSource(source) ? source.scope ?? '' : this.runScope
    const deadLetter = this.options.deadLetter
    if (deadLetter != null) {
      this.deadLetters = new DeadLetters(name, deadLetter, scope, { settled: id => { this.failedSettled(id) }, failed: err => { this.finish(err) } })
    }
    this.sink = new SinkLink(this.options.sink, this.options.queueSize, scope, {
      delivered: envelope => { this.outstanding--; this.acks?.settled(envelope.id); this.maybeFinish() },
      // reported under the last stage, whose result it is; acknowledged as a failed item is, never retried (encoding is no chance event)
      refused: (envelope, err) => { this.sinkRefused++; this.itemFailed(this.options.stages.at(-1)!.name, envelope, toWireError(err)) },
      failed: err => { this.finish(err) }
    })
    // built from the sink backwards: each stage gets the link after it
    let downstream: Downstream = this.sink
    this.stages = this.options.stages.toReversed().map(spec => {
      const stage = new StageRunner({
        spec,
        options: this.options,
        downstream,
        spawn: async (s, signal) => await grid.spawn({ stage: s.name, module: s.module, resources: s.resources, concurrency: s.concurrency }, { signal }),
        events: this.stageEvents(spec.name),
        log: plog
      })
      downstream = stage
      return stage
    }).reverse()
    if (this.options.equalize) {
      const { equalizeMs: tickMs, utilization, drainMs, scaleDownAfterMs } = this.options
      this.equalizer = new EqualizerLoop(this.stages, { tickMs, utilization, drainMs, scaleDownAfterMs }, grid.capacity, (stage, workers, delta, reason) => {
        this.notify('stage:scaled', { stage, workers, delta, reason })
      }, (stage, limit) => {
        const round = (n: number): number => Math.round(n * 10) / 10
        this.notify('stage:held', { stage, workers: limit.workers, holdMs: limit.holdMs, capacityBefore: round(limit.before), capacityAfter: round(limit.after) })
      })
    }
    // an 'abort' listener added to a signal already aborted never fires: such a run is cancelled at once
    const signal = this.options.signal
    if (signal?.aborted === true) this.cancel()
    else signal?.addEventListener('abort', this.onAbort, { once: true })
    void this.start()
  }

  /** Feeds one item; waits while the first stage is full (aborting `signal` gives up the wait: the item is not taken). */
  async push (item: In, options?: SignalOption): Promise<void> {
    const signal = options == null ? undefined : checkSignalOption('push', options)
    signal?.throwIfAborted()
    await this.admit(item, undefined, signal)
  }

  /** An item in, under the source's stable `id` (a durable source) or the next number. */
  private async admit (item: unknown, entryId?: string, signal?: AbortSignal): Promise<void> {
    if (this.inputEnded) throw new ConfigError('push', 'the input was ended')
    // a cancelled or failed run takes nothing more: its stages are closed and would never run the item
    if (this.finished) throw new PipelineCancelledError(this.name)
    const first = this.stages[0]!
    while (first.room() <= 0) {
      await (signal == null ? new Promise<void>(resolve => { first.onRoomFreed(resolve) }) : roomOrAbort(first, signal))
      if (this.finished) throw new PipelineCancelledError(this.name)
    }
    this.pulled++
    this.outstanding++
    if (entryId != null) this.acks?.admitted(entryId)
    // beside a durable source, a pushed item's number is no entry's id (a queue numbering its entries 1, 2, …
    // would have it settle entry n), and no other run's pushed item (the sink would skip it as a replay)
    const id = entryId ?? (this.acks != null ? `${this.runScope}${this.pulled}` : String(this.pulled))
    first.accept([{ id, value: item, attempts: 0, crashes: 0 }])
  }

  /** No more items: `done` resolves once the ones inside are through. */
  end (): void {
    this.inputEnded = true
    this.maybeFinish()
  }

  cancel (): void {
    this.finish(new PipelineCancelledError(this.name))
  }

  /**
   * Sets how many workers stage `name` should have (running and starting),
   * within its [minWorkers, maxWorkers]: for an outside scaling policy on a
   * run with `equalize: false` (bench:trace drives its target-tracking
   * baseline so). Returns the number it set.
   */
  scaleStage (name: string, workers: number): number {
    const stage = this.stages.find(s => s.name === name)
    if (stage == null) throw new ConfigError('stage', `no stage "${name}" in pipeline ${this.name}`)
    if (this.equalizer != null) throw new ConfigError('equalize', 'the equalizer sizes this run: pass equalize: false to scale it by hand')
    // NaN would pass every clamp below and leave the stage's bookkeeping NaN for good
    if (typeof workers !== 'number' || !Number.isFinite(workers)) throw new ConfigError('workers', `must be a finite number, got ${shown(workers)}`)
    const running = stage.workers + stage.sample(performance.now()).starting
    const wanted = Math.min(stage.maxWorkers, Math.max(stage.minWorkers, Math.round(workers)))
    if (wanted !== running && !this.finished) stage.scale(wanted - running)
    return wanted
  }

  stats (): { stages: StageStats[] } {
    return { stages: this.stages.map((stage, i) => stage.stats(this.equalizer?.rates(i))) }
  }

  /** Per-stage counts so far (the summary's `stages`, live). */
  totals (): StageSummary[] {
    return this.stages.map(s => s.totals())
  }

  private stageEvents (stage: string): StageEvents {
    return {
      resulted: (count, envelope) => {
        // a fan-out of k results leaves k items where there was one; a drop leaves none
        this.outstanding += count - 1
        this.acks?.resulted(envelope.id, count)
        this.maybeFinish()
      },
      failed: (envelope, error) => { this.itemFailed(stage, envelope, error) },
      workerLost: (handle, detail) => {
        this.trouble.workerLost(stage, handle.id, handle.agentId, detail)
        this.notify('worker:lost', { stage, workerId: handle.id, agentId: handle.agentId, detail })
      },
      respawning: (workers, delta) => { this.notify('stage:scaled', { stage, workers, delta, reason: 'below minWorkers: respawn' }) },
      unplaceable: report => { this.notify('stage:unplaceable', report) },
      cannotStart: err => { this.finish(err) }
    }
  }

  /** An item failed for good: reported, its entry acknowledged (not redelivered forever). */
  private itemFailed (stage: string, envelope: Envelope, error: WireError): void {
    this.trouble.itemFailed(stage, envelope.attempts, error)
    const failure: FailedItem = { id: envelope.id, stage, item: envelope.value, attempts: envelope.attempts, error }
    this.notify('item:failed', failure)
    // with a deadLetter, done (and acknowledged) only once it has the item
    if (this.deadLetters != null) this.deadLetters.take(failure)
    else this.failedSettled(envelope.id)
  }

  private failedSettled (id: string): void {
    if (this.finished) return
    this.outstanding--
    this.acks?.settled(id)
    this.maybeFinish()
  }

  /**
   * Tells the run's listeners. A listener that throws is logged: the throw would otherwise land in the
   * stage or the equalizer that reported the event, half-way through its bookkeeping (after a failed
   * item, the check for the run's end skipped: `done` never settled), and from a settlement's `.then`
   * or a timer end the process.
   */
  private notify<K extends keyof PipelineRunEvents> (event: K, ...args: PipelineRunEvents[K]): void {
    try {
      this.emit(event, ...(args as never))
    } catch (err) {
      this.log.error({ err, event }, `a "${event}" listener of pipeline ${this.name} threw; the run goes on`)
    }
  }

  private async start (): Promise<void> {
    // cancelled before it started (an aborted signal): no worker placed, no equalizer timer left running
    if (this.finished) return
    for (const stage of this.stages) stage.start()
    this.equalizer?.start()
    const source = this.options.source
    if (source == null) return
    try {
      if (isDurableSource(source)) {
        for await (const entry of source.entries(this.reading.signal)) {
          if (this.finished) return
          await this.admit(entry.value, entry.id)
        }
      } else {
        for await (const item of source) {
          if (this.finished) return
          await this.admit(item)
        }
      }
      this.end()
    } catch (err) {
      this.finish(err as Error)
    }
  }

  private maybeFinish (): void {
    if (this.inputEnded && this.outstanding === 0) this.finish()
  }

  private finish (error?: Error): void {
    if (this.finished) return
    this.finished = true
    this.options.signal?.removeEventListener('abort', this.onAbort)
    this.equalizer?.stop()
    this.reading.abort()
    this.sink.close()
    void Promise.allSettled(this.stages.map(async s => await s.close())).then(async () => {
      await this.closeConnectors()
      if (error != null) this.rejectDone(error)
      else this.resolveDone(this.summary())
    })
  }

  /** A durable source flushes its last acknowledgements; connectors release their connections. */
  private async closeConnectors (): Promise<void> {
    const { source, sink } = this.options
    const closing: Array<Promise<void>> = []
    if (isDurableSource(source)) closing.push(source.close())
    if (isDurableSink(sink)) closing.push(sink.close())
    if (isDurableSink(this.options.deadLetter)) closing.push(this.options.deadLetter.close())
    for (const result of await Promise.allSettled(closing)) {
      if (result.status === 'rejected') this.log.warn({ err: result.reason }, 'closing a connector failed')
    }
  }

  private summary (): PipelineSummary {
    const stages = this.totals()
    return {
      in: this.pulled,
      out: this.sink.delivered,
      failed: stages.reduce((n, s) => n + s.failed, this.sinkRefused),
      retried: stages.reduce((n, s) => n + s.retried, 0),
      duplicatesSuppressed: this.stages.reduce((n, s) => n + s.lateResults, 0),
      durationMs: Math.round(performance.now() - this.startedAt),
      stages
    }
  }
}

/** Resolves when `stage` has room, rejects with the signal's reason if it is aborted first; leaves no listener behind either way. */
async function roomOrAbort (stage: StageRunner, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const wake = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
    const onAbort = (): void => { stage.offRoomFreed(wake); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    stage.onRoomFreed(wake)
  })
}
