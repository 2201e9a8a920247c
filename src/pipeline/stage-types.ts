// What a stage and its run (stage-runner.ts, run.ts) tell each other.
import type { WorkerHandle } from '../owner/worker-handle.ts'
import type { WireError } from '../wire/wire-error.ts'
import type { Logger } from '../logger.ts'
import type { ResolvedStage, PipelineOptions } from './config.ts'
import type { Downstream } from './downstream.ts'
import type { Envelope, UnplaceableStage } from './types.ts'

/** What a stage tells its run. */
export interface StageEvents {
  /** One item's result went downstream as `count` items (0: dropped, > 1: fanned out). */
  resulted: (count: number, envelope: Envelope) => void
  failed: (envelope: Envelope, error: WireError) => void
  workerLost: (handle: WorkerHandle, detail: string) => void
  /** A lost worker left the stage below minWorkers: `delta` more wanted, `workers` in all. */
  respawning: (workers: number, delta: number) => void
  unplaceable: (report: UnplaceableStage) => void
  /** `placementTimeoutMs` ran out with no worker: the run fails with `err`. */
  cannotStart: (err: Error) => void
}

export interface StageInit {
  spec: ResolvedStage
  options: Pick<PipelineOptions, 'window' | 'minWindow' | 'maxWindow' | 'windowMs' | 'queueSize' | 'maxAttempts' | 'placementTimeoutMs'>
  downstream: Downstream
  spawn: (spec: ResolvedStage, signal: AbortSignal) => Promise<WorkerHandle>
  events: StageEvents
  log: Logger
}
