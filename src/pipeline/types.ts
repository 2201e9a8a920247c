import type { WireError } from '../wire/wire-error.ts'
import type { Pressure } from '../equalizer/index.ts'
import type { DurableSink, DurableSource } from '../connectors/types.ts'

export type { Pressure }

export interface StageSpec {
  name: string
  /** Path of the stage module (shipped to agents that lack it). */
  module: string
  minWorkers?: number
  maxWorkers?: number
  resources?: { cpu?: number, memoryMb?: number }
  /** Items one worker processes at once. Default 1. */
  concurrency?: number
  /** Keep queueing delay (items waiting ÷ what the stage's workers drain per second) under this many ms:
   * the equalizer adds workers for it as well as for the rate balance (once the last action's workers are
   * up), and each worker's window holds at most that much work. Default: 4 items' work of one worker
   * (4 × concurrency ÷ its measured rate, at least 4 × `windowMs`) for the items queued beyond the
   * windows, not while a backlog left by a scale-up just sized from the rate drains, and with no cap on
   * the windows (src/equalizer/objective.ts). */
  latencyObjectiveMs?: number
  /** Workers kept running beyond what the equalizer sizes the stage for (within maxWorkers), so the start
   * of a burst finds capacity already up. They cost worker time all along. Default 0. */
  spareWorkers?: number
  /** An item's attempt that runs on its worker longer than this fails with ItemTimeoutError (ERR_ITEM_TIMEOUT),
   * retried up to `maxAttempts`: its `ctx.signal` is aborted, and a worker still running it a second later
   * is killed and replaced (its other items run again, no attempt counted). Default: none.
   * With it the stage's items run as task items: each gets a fresh ctx (stage, workerId, env and its own
   * signal), so what `setup` stored on ctx is not there (keep it in the module's scope), and each sends its
   * owner a start notice (one more message per item). */
  itemTimeoutMs?: number
}

export interface PipelineInit<In = unknown, Out = unknown> {
  /** The entry: pulled only while the first stage has room. Omit to feed with `run.push()`.
   * A `DurableSource` (src/connectors/: `redisStreamSource`) gives each item a stable id and is
   * acknowledged entry by entry once everything the entry produced is through; the run closes it. */
  source?: Iterable<In> | AsyncIterable<In> | DurableSource<In>
  stages: StageSpec[]
  /** The exhaust: called once per result with the item's id (stable from a durable source); an item is
   * done when it resolves. A `DurableSink` (`redisStreamSink`) takes results in batches, idempotently
   * by id; the run closes it. */
  sink: ((result: Out, id: string) => unknown) | DurableSink<Out>
  /** Attempts per item when `process` throws. Default 3. */
  maxAttempts?: number
  /** Items in flight per worker (its credit window) until the first rates are measured. Default 16.
   * Then the equalizer sizes it to hold about `windowMs` of a worker's work, within [`minWindow`,
   * `maxWindow`]: large batches for cheap items, few queued items for costly ones (so a worker never
   * sits on a backlog another idle worker could take). It shrinks only when that work falls under a
   * quarter of the window, so a slow link (round trip over 4 × `windowMs`) cannot collapse it. */
  window?: number
  /** Lower bound of the adaptive window. Default: `window` (it never shrinks). For CPU-bound stages
   * whose items each cost more than `windowMs`, `minWindow: 2` keeps one item running and one on its
   * way per worker, so the last items of a batch spread over the workers instead of queueing 16 deep
   * behind one. Not the default: with fewer items buffered in workers, an equalized stage under a
   * sudden 10x step sees its source held back sooner and over-provisions (bench:equalizer). */
  minWindow?: number
  /** Upper bound of the adaptive window; set it to `window` to pin the window. Default 1024. */
  maxWindow?: number
  /** Work (at the measured per-worker rate) a worker's window should hold. Default 10 ms. */
  windowMs?: number
  /** Queued items per stage before upstream waits. Default 256. */
  queueSize?: number
  /** Equalizer tick. Default 1000 ms. */
  equalizeMs?: number
  /** The backlog should drain within this time. Default 10 s. */
  drainMs?: number
  /** Low pressure must last this long before workers are killed. Default 5 s: a scale-up that finds
   * pre-started hosts on the agents (2 each by default, `prestartWorkers`) costs tens of ms, so idle
   * surplus held longer buys little. */
  scaleDownAfterMs?: number
  /** Target busy fraction per worker when sizing a stage: the cap a large stage runs at. A stage that names no
   * `latencyObjectiveMs` also gets square-root staffing's headroom, a + 0.5·√a workers for a load of a (src/equalizer/staffing.ts). Default 0.9. */
  utilization?: number
  /** Turn the equalizer off (stages keep minWorkers). Default on. */
  equalize?: boolean
  /** A stage with no worker that cannot be placed for this long fails the run (`done` rejects with
   * NoCapacityError). Default: wait for an agent however long it takes. */
  placementTimeoutMs?: number
  /** Where each item that failed for good goes (after `item:failed`): a function called with it, or a
   * `DurableSink` (`redisStreamSink` to a stream of its own) it is written to by id, as `FailedItem`, and
   * closed with the run. The item counts as done, and its entry is acknowledged (a durable source), only
   * once that resolves; if it throws or rejects, the run fails (`DeadLetterError`) and the entry stays
   * pending, to be read again. Calls run side by side, at most 1,024 pending. Default: none. */
  deadLetter?: ((failure: FailedItem) => unknown) | DurableSink<unknown>
  signal?: AbortSignal
}

export interface Envelope {
  id: string
  value: unknown
  attempts: number
  /** Times a worker died with this item in flight (after the first, it runs alone). */
  crashes: number
  /** In flight when a worker crashed: from now on it runs alone, so a crash is attributable. */
  isolate?: boolean
  /** Times its worker was lost with no crash counted (stopped, its agent gone): bounded, see afterError. */
  excused?: number
}

export interface FailedItem {
  id: string
  stage: string
  item: unknown
  attempts: number
  error: WireError
}

export interface StageStats {
  name: string
  workers: number
  arrivalRate: number
  processingRate: number
  queued: number
  inFlight: number
  pressure: Pressure
  /** Each worker's credit window now (adaptive: see `window` / `maxWindow`). */
  window: number
  /** Why a wanted worker cannot be placed right now (absent while placement works). */
  unplaceable?: string
}

/** A stage wants a worker the grid cannot place: why, and what each agent lacks. */
export interface UnplaceableStage {
  stage: string
  /** "no agents in the grid", or what each agent lacks. */
  reason: string
  shortfalls: Array<{ agentId: string, lacks: string[] }>
}

export interface StageSummary {
  name: string
  processed: number
  failed: number
  retried: number
  maxWorkers: number
  /** Equalizer actions taken (spawns and drains). */
  decisions: number
}

export interface PipelineSummary {
  in: number
  out: number
  failed: number
  retried: number
  duplicatesSuppressed: number
  durationMs: number
  stages: StageSummary[]
}
