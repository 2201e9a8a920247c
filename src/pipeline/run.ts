import { EventEmitter } from 'node:events'
import { StageRunner } from './stage-runner.ts'
import type { Envelope, FailedItem, PipelineInit, PipelineSummary, StageStats, StageSummary } from './types.ts'
import type { WorkerHandle } from '../owner/worker-handle.ts'
import type { SpawnOptions } from '../owner/workers.ts'
import type { StageSpec } from './types.ts'
import { Equalizer } from './equalizer-loop.ts'
import { checkPipelineInit } from './config.ts'
import { ConfigError, PipelineCancelledError } from '../errors.ts'
import type { Logger } from '../logger.ts'

export interface PipelineRunEvents {
  'item:failed': [FailedItem]
  'stage:scaled': [{ stage: string, workers: number, delta: number, reason: string }]
  'worker:lost': [{ stage: string, workerId: string, agentId: string, detail: string }]
}

/** What a run needs from the grid: workers, and how many more would fit. */
export interface PipelineGrid {
  spawn: (options: SpawnOptions) => Promise<WorkerHandle>
  capacity: (resources: StageSpec['resources'], limit: number) => number
}

/**
 * One run of a pipeline owned by this node: pulls the source while the first
 * stage has room, moves results stage to stage, hands them to the sink, and
 * resolves `done` with a summary once every item is through (or failed).
 */
export class PipelineRun extends EventEmitter<PipelineRunEvents> {
  readonly name: string
  readonly done: Promise<PipelineSummary>
  private readonly stages: StageRunner[]
  private readonly init: PipelineInit
  private readonly equalizer?: Equalizer
  private readonly sunk = new Set<string>()
  private readonly sinkQueue: Array<{ envelope: Envelope, value: unknown }> = []
  private sinking = false
  private outstanding = 0
  private pulled = 0
  private out = 0
  private failedCount = 0
  private duplicates = 0
  private inputEnded = false
  private finished = false
  private readonly startedAt = performance.now()
  private resolveDone: (s: PipelineSummary) => void = () => {}
  private rejectDone: (e: Error) => void = () => {}
  private readonly roomWaiters: Array<() => void> = []

  constructor (name: string, init: PipelineInit, grid: PipelineGrid, log: Logger) {
    super()
    checkPipelineInit(init)
    this.name = name
    this.init = init
    this.done = new Promise((resolve, reject) => { this.resolveDone = resolve; this.rejectDone = reject })
    this.done.catch(() => {})
    const window = init.window ?? 16
    const options = { window, maxWindow: init.maxWindow ?? Math.max(window, 1024), windowMs: init.windowMs ?? 10, queueSize: init.queueSize ?? 256, maxAttempts: init.maxAttempts ?? 3 }
    const plog = log.child({ pipeline: name })
    this.stages = init.stages.map((spec, i) => new StageRunner(spec, options, {
      spawn: async s => await grid.spawn({ stage: s.name, module: s.module, resources: s.resources, concurrency: s.concurrency }),
      output: (from, values) => { this.forward(i, from, values) },
      downstreamHasRoom: () => i + 1 < this.stages.length ? this.stages[i + 1]!.hasRoom() : this.sinkQueue.length < options.queueSize,
      failed: (envelope, error) => { this.fail(spec.name, envelope, error) },
      workerLost: (handle, detail) => { this.emit('worker:lost', { stage: spec.name, workerId: handle.id, agentId: handle.agentId, detail }) },
      scaled: (workers, delta) => { this.emit('stage:scaled', { stage: spec.name, workers, delta, reason: 'below minWorkers: respawn' }) }
    }, plog))
    if (init.equalize !== false) this.equalizer = new Equalizer(this.stages, init, grid.capacity, (stage, workers, delta, reason) => { this.emit('stage:scaled', { stage, workers, delta, reason }) })
    init.signal?.addEventListener('abort', () => { this.cancel() }, { once: true })
    void this.start()
  }

  /** Feeds one item; waits while the pipeline is full. */
  async push (item: unknown): Promise<void> {
    if (this.inputEnded) throw new ConfigError('push', 'the input was ended')
    while (!this.stages[0]!.hasRoom()) {
      this.stages[0]!.saturatedInTick = true
      // woken when the first stage dispatches; the timer is a safety net, not the mechanism
      await new Promise<void>(resolve => { this.roomWaiters.push(resolve); setTimeout(resolve, 100).unref() })
      if (this.finished) throw new PipelineCancelledError(this.name)
    }
    this.admit(item)
  }

  /** No more items: `done` resolves once the ones inside are through. */
  end (): void {
    this.inputEnded = true
    this.maybeFinish()
  }

  cancel (): void {
    if (this.finished) return
    this.finish(new PipelineCancelledError(this.name))
  }

  stats (): { stages: StageStats[] } {
    return { stages: this.stages.map((s, i) => this.equalizer?.stats(i) ?? { name: s.spec.name, workers: s.workers, arrivalRate: 0, processingRate: 0, queued: s.queue.length, inFlight: s.inFlight, pressure: s.pressure, window: s.window }) }
  }

  /** Per-stage counts so far (the summary's `stages`, live). */
  totals (): StageSummary[] {
    return this.stages.map(s => ({ name: s.spec.name, ...s.totals }))
  }

  private async start (): Promise<void> {
    try {
      await Promise.all(this.stages.map(async s => await s.grow(s.spec.minWorkers)))
      this.equalizer?.start()
      if (this.init.source != null) {
        for await (const item of this.init.source) {
          if (this.finished) return
          await this.push(item)
        }
        this.end()
      }
    } catch (err) {
      this.finish(err as Error)
    }
  }

  private admit (item: unknown): void {
    this.pulled++
    this.outstanding++
    this.stages[0]!.enqueue([{ id: String(this.pulled), value: item, attempts: 0, crashes: 0 }])
  }

  private forward (index: number, from: Envelope, values: unknown[]): void {
    // a fan-out of k results leaves k items outstanding where there was one
    this.outstanding += values.length - 1
    const children = values.map((value, k) => ({ id: values.length === 1 ? from.id : `${from.id}.${k}`, value, attempts: 0, crashes: 0 }))
    const next = this.stages[index + 1]
    if (next != null) next.enqueue(children)
    else for (const envelope of children) this.sinkQueue.push({ envelope, value: envelope.value })
    if (next == null) void this.drainSink()
    this.wakeUpstream()
    this.maybeFinish()
  }

  private async drainSink (): Promise<void> {
    if (this.sinking) return
    this.sinking = true
    try {
      while (this.sinkQueue.length > 0 && !this.finished) {
        const { envelope, value } = this.sinkQueue.shift()!
        if (this.sunk.has(envelope.id)) {
          this.duplicates++
        } else {
          await this.init.sink(value)
          this.sunk.add(envelope.id)
          this.out++
        }
        this.outstanding--
        this.stages.at(-1)!.dispatch()
        this.maybeFinish()
      }
    } catch (err) {
      this.finish(err as Error)
    } finally {
      this.sinking = false
    }
  }

  private fail (stage: string, envelope: Envelope, error: FailedItem['error']): void {
    this.failedCount++
    this.outstanding--
    this.emit('item:failed', { id: envelope.id, stage, item: envelope.value, attempts: envelope.attempts, error })
    this.maybeFinish()
  }

  private wakeUpstream (): void {
    for (const stage of this.stages) stage.dispatch()
    if (this.stages[0]!.hasRoom()) for (const wake of this.roomWaiters.splice(0)) wake()
  }

  private maybeFinish (): void {
    if (this.inputEnded && this.outstanding === 0 && !this.finished) this.finish()
  }

  private finish (error?: Error): void {
    this.finished = true
    this.equalizer?.stop()
    for (const wake of this.roomWaiters.splice(0)) wake()
    void Promise.allSettled(this.stages.map(async s => await s.close())).then(() => {
      if (error != null) this.rejectDone(error)
      else this.resolveDone(this.summary())
    })
  }

  private summary (): PipelineSummary {
    return {
      in: this.pulled,
      out: this.out,
      failed: this.failedCount,
      retried: this.stages.reduce((n, s) => n + s.totals.retried, 0),
      duplicatesSuppressed: this.duplicates,
      durationMs: Math.round(performance.now() - this.startedAt),
      stages: this.stages.map(s => ({ name: s.spec.name, ...s.totals }))
    }
  }
}
