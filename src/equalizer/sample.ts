import type { Pressure } from './decide.ts'

/**
 * What the equalizer loop reads of a stage and what it may ask of it. The
 * pipeline implements `EqualizedStage`; this side never reaches into a stage.
 */

/**
 * One stage at one instant, read-only. Counters are cumulative since the stage
 * started (the loop keeps the previous sample and takes differences), so
 * reading a sample changes nothing in the stage.
 */
export interface StageSample {
  /** Items offered to the stage so far (retries excluded). */
  readonly arrivals: number
  /** Items processed so far. */
  readonly processed: number
  /** Time workers spent with items in flight so far, summed over workers (ms): DS2's useful time. */
  readonly busyMs: number
  /** Times an upstream (the entry, or the stage before) found this stage full. */
  readonly upstreamWaits: number
  /** An upstream is waiting for room right now. */
  readonly upstreamWaiting: boolean
  /** Times this stage held queued items back because its downstream was full. */
  readonly downstreamBlocks: number
  /** It is holding items back right now. */
  readonly downstreamBlocked: boolean
  readonly queued: number
  /** Items waiting to start: queued, plus those held in worker windows behind the ones running (default `queued`). */
  readonly waiting?: number
  readonly inFlight: number
  /** Workers running (not draining). */
  readonly workers: number
  /** Workers wanted but not running yet: spawning, or waiting to be placed. */
  readonly starting: number
}

export interface EqualizedStage {
  readonly name: string
  readonly minWorkers: number
  readonly maxWorkers: number
  readonly resources?: { cpu?: number, memoryMb?: number }
  /** Keep the waiting items' queueing delay under this (optional; default: see objective.ts). */
  readonly latencyObjectiveMs?: number
  /** Items one worker runs at once (default 1): the default objective is in items' work. */
  readonly concurrency?: number
  /** The credit window's latency budget in ms (default 10): the default objective's floor. */
  readonly windowMs?: number
  /** Workers kept beyond the need (default 0). */
  readonly spareWorkers?: number
  /** Calls `listener` after items arrive, so the loop can react between ticks. */
  onArrival?: (listener: () => void) => void
  sample: (now: number) => StageSample
  /** Grow (delta > 0) or drain (delta < 0) the stage by `delta` workers. */
  scale: (delta: number) => void
  /** The measured rate of one worker, to size its credit window. */
  adaptWindow: (perWorkerRate: number) => void
}

/** What the loop measured for a stage, for stats. */
export interface StageRates {
  arrivalRate: number
  processingRate: number
  pressure: Pressure
}
