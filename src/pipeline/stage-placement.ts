import type { WorkerHandle } from '../owner/worker-handle.ts'
import { Backoff } from '../owner/placement-retry.ts'
import { ERR_CONFIG, ERR_STAGE_BUNDLE, ERR_STAGE_DEFINITION, NoCapacityError } from '../errors.ts'
import type { GridError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { UnplaceableStage } from './types.ts'

/** Failures no retry can mend (the stage module cannot be read, bundled or loaded): the run fails at once. */
const FATAL_CODES = new Set([ERR_CONFIG, ERR_STAGE_BUNDLE, ERR_STAGE_DEFINITION])

/** While a stage stays unplaceable, it is reported again at most this often. */
export const UNPLACEABLE_REPORT_MS = 30_000

export interface PlacementInit {
  stage: string
  /** Places one worker (NoCapacityError: nothing has room). */
  spawn: (signal: AbortSignal) => Promise<WorkerHandle>
  /** A worker was placed; the stage takes it (`owed`: a scale-down gave it up while it was spawning: drain it). */
  placed: (handle: WorkerHandle, owed: boolean) => void
  /** Workers the stage has running now. */
  running: () => number
  /** A wanted worker cannot be placed: once per episode, then at most every 30 s. */
  unplaceable: (report: UnplaceableStage) => void
  /** The stage cannot start: it had no worker and none could be placed for `timeoutMs`, or the failure is one no retry mends. */
  failed: (err: Error) => void
  timeoutMs?: number
  log: Logger
}

/**
 * The workers a stage wants but does not have yet: placed as soon as the grid
 * has room. A failed placement backs off exponentially (capped) and is
 * reported truthfully — why, and what each agent lacks — instead of being
 * counted as a worker.
 */
export class StagePlacement {
  private readonly init: PlacementInit
  private readonly backoff = new Backoff()
  private readonly abort = new AbortController()
  private wanted = 0
  private spawning = 0
  /** Spawns under way that a scale-down gave up (they cannot be aborted), at most `spawning`: the next to
   * land is drained, the next to fail is dropped, not tried again (retried, it would be placed only to be
   * drained, reported unplaceable meanwhile, and fail the run at `timeoutMs` for a worker nobody wants). */
  private owed = 0
  private retryTimer?: NodeJS.Timeout
  private deadlineTimer?: NodeJS.Timeout
  /** Since when (epoch ms) placement has been failing; undefined while it works. */
  private failingSince?: number
  /** Since when (epoch ms) the stage has had no worker while placement fails: `timeoutMs` runs from here. */
  private workerlessSince?: number
  private reportedAt = Number.NEGATIVE_INFINITY
  private why?: string
  private lastError?: Error
  private closed = false

  constructor (init: PlacementInit) {
    this.init = init
  }

  /** Workers wanted and not running yet (spawning, or waiting to retry), not counting those owed to a drain. */
  get pending (): number {
    return this.wanted - this.owed
  }

  /** Why placement is failing now; undefined while it works. */
  get unplaceable (): string | undefined {
    return this.why
  }

  want (count: number): void {
    // spawns owed to a drain are taken back first: their workers stay
    const kept = Math.min(Math.max(0, count), this.owed)
    this.owed -= kept
    this.wanted += Math.max(0, count) - kept
    this.pump()
  }

  /** Gives up to `count` spawns under way up (see `owed`); returns how many. */
  owe (count: number): number {
    const owed = Math.max(0, Math.min(count, this.spawning - this.owed))
    this.owed += owed
    return owed
  }

  /** Gives up to `count` wanted workers up (not ones already spawning); returns how many. */
  cancel (count: number): number {
    const cancelled = Math.max(0, Math.min(count, this.wanted - this.spawning))
    this.wanted -= cancelled
    if (this.wanted === 0) this.settled('cancelled')
    return cancelled
  }

  /** The stage lost a worker: if that was its last while placement fails, the deadline's clock starts now. */
  workerGone (): void {
    if (this.failingSince != null && !this.closed) this.watchWorkerless()
  }

  close (): void {
    this.closed = true
    this.abort.abort()
    clearTimeout(this.retryTimer)
    clearTimeout(this.deadlineTimer)
  }

  private pump (): void {
    if (this.closed || this.retryTimer != null) return
    while (this.spawning < this.wanted) void this.attempt()
  }

  private async attempt (): Promise<void> {
    this.spawning++
    let handle: WorkerHandle
    try {
      handle = await this.init.spawn(this.abort.signal)
    } catch (err) {
      this.spawning--
      if (this.closed) return
      if (this.owed > 0) {
        // a worker the stage gave up: not tried again
        this.owed--
        this.wanted--
        if (this.wanted === 0) this.settled('cancelled')
        return
      }
      if (FATAL_CODES.has((err as GridError).code) && this.init.running() === 0) this.init.failed(err as Error)
      else this.failed(err as Error)
      return
    }
    this.spawning--
    this.wanted--
    const owed = this.owed > 0
    if (owed) this.owed--
    this.backoff.reset()
    this.settled('placed')
    this.init.placed(handle, owed)
    // the grid has room again: the others waiting on the backoff try now
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.pump()
  }

  private failed (err: Error): void {
    this.lastError = err
    if (this.retryTimer == null) {
      this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.pump() }, this.backoff.next())
      this.retryTimer.unref()
    }
    const shortfalls = err instanceof NoCapacityError ? err.shortfalls : []
    this.why = err instanceof NoCapacityError
      ? (shortfalls.length === 0 ? 'no agents in the grid' : shortfalls.map(s => `${s.agentId} lacks ${s.lacks.join(', ')}`).join('; '))
      : err.message
    const now = Date.now()
    this.failingSince ??= now
    this.watchWorkerless()
    this.checkDeadline()
    if (now - this.reportedAt < UNPLACEABLE_REPORT_MS || this.closed) return
    this.reportedAt = now
    this.init.log.warn({ err, reason: this.why, shortfalls }, `stage "${this.init.stage}" cannot be placed: ${this.why}`)
    this.init.unplaceable({ stage: this.init.stage, reason: this.why, shortfalls })
  }

  /**
   * Starts the deadline's clock when the stage has no worker (it stops if one runs again): timed from the
   * start of the trouble instead, a stage whose one worker died ten minutes into it failed the run at once.
   */
  private watchWorkerless (): void {
    if (this.init.running() > 0) {
      this.workerlessSince = undefined
      clearTimeout(this.deadlineTimer)
      return
    }
    if (this.workerlessSince != null) return
    this.workerlessSince = Date.now()
    if (this.init.timeoutMs == null) return
    this.deadlineTimer = setTimeout(() => { this.checkDeadline() }, this.init.timeoutMs)
    this.deadlineTimer.unref()
  }

  /** Fails the run once the stage has had no worker and no placement for `timeoutMs`. */
  private checkDeadline (): void {
    if (this.init.timeoutMs == null || this.workerlessSince == null || this.closed || this.lastError == null) return
    if (Date.now() - this.workerlessSince >= this.init.timeoutMs && this.init.running() === 0) this.init.failed(this.lastError)
  }

  /** Placement works again, or nothing is wanted any more: the episode is over. */
  private settled (how: 'placed' | 'cancelled'): void {
    if (how === 'cancelled') {
      clearTimeout(this.retryTimer)
      this.retryTimer = undefined
    }
    if (this.failingSince == null) return
    this.init.log.info({ stage: this.init.stage, afterMs: Date.now() - this.failingSince }, how === 'placed' ? 'stage placed again' : 'stage wants no more workers')
    this.failingSince = undefined
    this.workerlessSince = undefined
    this.why = undefined
    this.lastError = undefined
    this.reportedAt = Number.NEGATIVE_INFINITY
    clearTimeout(this.deadlineTimer)
  }
}
