import { decide, INITIAL_STATE } from '../equalizer/decide.ts'
import type { EqualizerConfig, EqualizerState } from '../equalizer/decide.ts'
import { ScaleUpJudge } from '../equalizer/useful-limit.ts'
import type { UsefulLimit } from '../equalizer/useful-limit.ts'

/** How a task pool is sized (the equalizer's knobs, per module). */
export interface PoolSizing {
  minWorkers: number
  maxWorkers: number
  /** How often the pool is re-sized. */
  sizeEveryMs: number
  /** Idle this long (low pressure throughout) before surplus workers are drained. */
  scaleDownAfterMs: number
}

export interface PoolSample {
  workers: number
  starting: number
  queued: number
  /** Worker busy time since the last sample, summed over workers. */
  busyMs: number
  capacityLimit: number
}

export interface PoolSizerHooks {
  sample: () => PoolSample
  spawn: (count: number) => void
  drain: (count: number) => void
  /** Each tick, once measured: tasks per busy second of one worker (μ), which sizes the pool's window. */
  measured?: (perWorkerRate: number) => void
  /** The workers last added did not raise the pool's capacity: it is limited to `limit.workers` for a while. */
  held?: (limit: UsefulLimit) => void
}

/** EWMA weight of the newest tick. */
const ALPHA = 0.5

/**
 * Sizes a task pool with the equalizer's own decision (DESIGN §6): λ from task
 * arrivals, μ from completions per busy second of a worker, the queue as
 * backlog; spawns the difference at once, drains idle workers only after low
 * pressure lasted `scaleDownAfterMs`; workers that did not raise its capacity
 * (a shared bottleneck) are not kept (useful-limit.ts).
 */
export class PoolSizer {
  private readonly sizing: PoolSizing
  private readonly hooks: PoolSizerHooks
  private config: EqualizerConfig
  private state: EqualizerState = INITIAL_STATE
  private arrivals = 0
  private completions = 0
  private lambda = 0
  private mu?: number
  private last = performance.now()
  private timer?: NodeJS.Timeout
  private readonly judge = new ScaleUpJudge()

  constructor (sizing: PoolSizing, hooks: PoolSizerHooks) {
    this.sizing = sizing
    this.hooks = hooks
    this.config = { minWorkers: sizing.minWorkers, maxWorkers: sizing.maxWorkers, utilization: 0.9, deadBand: 0.1, drainMs: 2000, scaleDownAfterMs: sizing.scaleDownAfterMs, warmupTicks: 1 }
  }

  /** New bounds, from the next tick on. */
  setBounds (minWorkers: number, maxWorkers: number): void {
    this.config = { ...this.config, minWorkers, maxWorkers }
  }

  arrived (): void {
    this.arrivals++
  }

  completed (): void {
    this.completions++
  }

  start (): void {
    this.timer = setInterval(() => { this.tick() }, this.sizing.sizeEveryMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  tick (): void {
    const now = performance.now()
    const seconds = Math.max(0.001, (now - this.last) / 1000)
    this.last = now
    const sample = this.hooks.sample()
    // a tick in which nothing arrived, waited or ran reads no demand at once: halved each tick, λ stayed
    // above 0 for ~30 ticks, and any λ > 0 asks for a whole worker, so an idle pool kept its last worker
    // ~15 s (at 500 ms ticks) beyond scaleDownAfterMs
    const idle = this.arrivals === 0 && sample.queued === 0 && sample.busyMs === 0
    this.lambda = idle ? 0 : ALPHA * (this.arrivals / seconds) + (1 - ALPHA) * this.lambda
    const reading = sample.busyMs > 0 && this.completions > 0 ? this.completions / (sample.busyMs / 1000) : undefined
    if (reading != null) this.mu = this.mu == null ? reading : ALPHA * reading + (1 - ALPHA) * this.mu
    if (this.mu != null) this.hooks.measured?.(this.mu)
    const throughput = this.completions / seconds
    this.arrivals = 0
    this.completions = 0
    const current = sample.workers + sample.starting
    // judged on this tick's reading: the average still holds the rate from before the scale-up. A tick
    // without one (no task finished: tasks longer than the tick) waits for the next: judged on μ 0, the
    // scale-up read as "nothing to judge" and was never limited
    const limit = reading == null ? undefined : this.judge.judge({ workers: sample.workers, starting: sample.starting, warmedUp: this.state.ticksSinceAction >= this.config.warmupTicks, mu: reading, arrivalRate: this.lambda, utilization: this.config.utilization }, now)
    if (limit != null) this.hooks.held?.(limit)
    const decision = decide({
      workers: sample.workers,
      starting: sample.starting,
      arrivalRate: this.lambda,
      processingRate: this.mu,
      throughput,
      saturated: false,
      downstreamBlocked: false,
      queued: sample.queued,
      capacityLimit: sample.capacityLimit,
      usefulLimit: this.judge.inForce(current),
      nowMs: now
    }, this.config, this.state)
    this.state = decision.state
    this.judge.scaled(decision.delta, current, this.mu ?? 0)
    if (decision.action === 'spawn') this.hooks.spawn(decision.delta)
    else if (decision.action === 'kill') this.hooks.drain(-decision.delta)
  }
}
