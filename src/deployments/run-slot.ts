import { pathToFileURL } from 'node:url'
import type { PipelineRun } from '../pipeline/run.ts'
import type { PipelineInit } from '../pipeline/types.ts'
import type { Logger } from '../logger.ts'
import { checkDefinition, connectorsFor } from './definition.ts'
import type { DefinitionContext } from './definition.ts'
import type { CodeStore } from './code-store.ts'
import type { Deployment, Progress, RunState } from './types.ts'
import { DefinitionError } from '../errors.ts'
import { isDurableSink } from '../connectors/types.ts'

export interface RunSlotDeps {
  self: string
  code: CodeStore
  pipeline: (name: string, init: PipelineInit) => PipelineRun
  report: (progress: Progress) => void
  claimIdleMs: number
  progressMs: number
  log: Logger
}

const FIRST_RETRY_MS = 1000
const LAST_RETRY_MS = 30_000

/**
 * One deployment run by this member under one lease token: loads the stored
 * definition and stages, builds the source and sink, runs the pipeline, and
 * reports its progress. A run that fails is started again (backing off) while
 * the lease is held; one that finishes (a finite source) stays finished until
 * the next version. `stop()` cancels it at once (the lease is gone).
 */
export class RunSlot {
  readonly deployment: Deployment
  readonly token: number
  private readonly deps: RunSlotDeps
  private readonly abort = new AbortController()
  private state: RunState = 'starting'
  private run?: PipelineRun
  private error?: string
  private startedAt = Date.now()
  private reportedAt = 0
  private retryAt = Infinity
  private retryMs = FIRST_RETRY_MS

  constructor (deployment: Deployment, token: number, deps: RunSlotDeps) {
    this.deployment = deployment
    this.token = token
    this.deps = deps
    void this.launch()
  }

  /** Called every step while the lease is held: retries a failed run when due, reports progress now and then. */
  tick (now: number): void {
    if (this.state === 'failed' && now >= this.retryAt) {
      this.retryAt = Infinity
      void this.launch()
    } else if (this.state === 'running' && now - this.reportedAt >= this.deps.progressMs) {
      this.report()
    }
  }

  /** Cancels the run at once; `state` is reported only when the deployment was stopped (another owner reports otherwise). */
  stop (report: boolean): void {
    if (this.abort.signal.aborted) return
    this.abort.abort()
    this.run?.cancel()
    if (report) {
      this.state = 'stopped'
      this.report()
    }
  }

  private async launch (): Promise<void> {
    const d = this.deployment
    const log = this.deps.log.child({ deployment: d.name, version: d.version, token: this.token })
    this.state = 'starting'
    this.startedAt = Date.now()
    this.error = undefined
    this.run = undefined
    this.report()
    /** What was built and not yet handed to a run: closed here if the start fails (its connections would stay open). */
    const built: Array<() => Promise<void>> = []
    try {
      const definitionFile = await this.deps.code.file(d.hash)
      const stageFiles = await Promise.all(d.stages.map(async s => await this.deps.code.file(s.hash)))
      const label = `${d.name} (version ${d.version})`
      const definition = checkDefinition(await import(pathToFileURL(definitionFile).href), label)
      if (definition.stages.map(s => s.name).join() !== d.stages.map(s => s.name).join()) throw new DefinitionError(label, 'its stages differ from the ones stored at deploy time')
      if (this.abort.signal.aborted) return
      const ctx: DefinitionContext = { name: d.name, params: d.params, consumer: `gridd-${this.deps.self}`, claimIdleMs: this.deps.claimIdleMs, connectors: await connectorsFor(log), signal: this.abort.signal, log }
      const source = await definition.source(ctx)
      built.push(closerOf(source))
      const sink = await definition.sink(ctx)
      built.push(closerOf(sink))
      const deadLetter = await definition.deadLetter?.(ctx)
      built.push(closerOf(deadLetter))
      if (deadLetter != null && typeof deadLetter !== 'function' && !isDurableSink(deadLetter)) throw new DefinitionError(label, 'deadLetter(ctx) must return a function (failure) => … or a DurableSink')
      if (this.abort.signal.aborted) throw new Error('stopped while starting')
      const stages = definition.stages.map((s, i) => ({ ...s, module: stageFiles[i]! }))
      const run = this.deps.pipeline(d.name, { ...definition.options, source, stages, sink, deadLetter, signal: this.abort.signal } as PipelineInit)
      built.length = 0
      this.run = run
      this.state = 'running'
      log.info('deployment run started')
      this.report()
      const summary = await run.done
      this.state = 'finished'
      log.info({ in: summary.in, out: summary.out }, 'deployment run finished: its source ended')
      this.report()
    } catch (err) {
      for (const close of built) await close().catch(() => {})
      if (this.abort.signal.aborted) return
      this.state = 'failed'
      this.error = (err as Error).message ?? String(err)
      this.retryAt = Date.now() + this.retryMs
      log.warn({ err, retryInMs: this.retryMs }, 'deployment run failed; started again while this member owns it')
      this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS)
      this.report()
    }
  }

  private report (): void {
    const now = Date.now()
    this.reportedAt = now
    const totals = this.run?.totals() ?? []
    try {
      this.deps.report({
        holder: this.deps.self,
        token: this.token,
        version: this.deployment.version,
        state: this.state,
        processed: totals.map(t => t.processed),
        failed: totals.reduce((sum, t) => sum + t.failed, 0),
        startedAt: this.startedAt,
        updatedAt: now,
        ...(this.error != null ? { error: this.error.slice(0, 2000) } : {})
      })
    } catch (err) {
      this.deps.log.debug({ err }, 'deployment progress not written')
    }
  }
}

/** How to close a source or sink the run never took over (nothing for one without `close`). */
function closerOf (end: unknown): () => Promise<void> {
  const close = (end as { close?: unknown } | null)?.close
  return typeof close === 'function' ? async () => { await (close as () => Promise<void>).call(end) } : async () => {}
}
