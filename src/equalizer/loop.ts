import { decide, INITIAL_STATE, offeredRate } from './decide.ts'
import type { EqualizerConfig, EqualizerState } from './decide.ts'
import type { EqualizedStage, StageRates, StageSample } from './sample.ts'
import { defaultLatencyObjectiveMs } from './objective.ts'
import { STAFFING_BETA } from './staffing.ts'
import { ScaleUpJudge } from './useful-limit.ts'
import type { UsefulLimit } from './useful-limit.ts'

const EWMA_ALPHA = 0.5
/** A sample this far from the average is a step, not noise: take it at once (DS2 acts on the last interval's true rates). */
const STEP_FACTOR = 0.5
/** The capacity clamp never needs to look further than this many workers ahead. */
const CAPACITY_LOOKAHEAD = 1024
const DEAD_BAND = 0.1
const WARMUP_TICKS = 2
/** Arrivals between ticks are measured over at least this long before they may trigger a scale-up. */
const REACT_WINDOW_MS = 100
/** The shortest window for a stage with a tight objective: shorter ones hold too few arrivals to be a rate. */
const MIN_REACT_WINDOW_MS = 20
/** Below this busy fraction a worker's measured rate may raise μ, never lower it (see `measureMu`). */
const BUSY_ENOUGH = 0.5
/** λ rising over this many ticks in a row is a ramp (fewer: noise, or a step the reactive check takes). */
const TREND_TICKS = 3
const TREND_MIN_RISE = 0.02
/** A ramp's rise per tick keeps up: at least this fraction of the tick before's (a step's aftermath dies away). */
const STEADY_RISE = 0.5
/**
 * A ramp is sized for λ as it will be when the next decision's workers could take over: the warm-up
 * after this action (WARMUP_TICKS quiet ticks), the tick that may act next, and one tick more for the
 * EWMA, which trails a rising λ by a tick. Two ticks (the warm-up alone) left each step of a daily
 * cycle's rise to workers sized for where λ had been: about 0.9 busy just before each next step.
 */
const LOOKAHEAD_TICKS = WARMUP_TICKS + 2
/** The credit window's latency budget when the stage does not say (the pipeline's `windowMs` default). */
const WINDOW_MS = 10

export interface EqualizerLoopInit {
  tickMs: number
  utilization: number
  drainMs: number
  scaleDownAfterMs: number
  /** β of square-root staffing (staffing.ts); default STAFFING_BETA, 0: ⌈λ / (μ·utilization)⌉ alone. */
  staffingBeta?: number
}

/** How many more workers needing `resources` the grid can place now (at most `limit`). */
export type CapacityProbe = (resources: EqualizedStage['resources'], limit: number) => number
export type ScaledListener = (stage: string, workers: number, delta: number, reason: string) => void
/** A stage held at `limit.workers`: the workers last added did not raise its capacity. */
export type HeldListener = (stage: string, limit: UsefulLimit) => void

interface Tracked {
  stage: EqualizedStage
  config: EqualizerConfig
  state: EqualizerState
  rates: StageRates & { throughput: number }
  previous: StageSample
  /** The start of the current between-ticks window: when, arrivals then, items waiting then, and the
   * arrival rate of the window before it (undefined: none measured since the last action). */
  fast: { at: number, arrivals: number, waiting: number, before?: number }
  /** How long a between-ticks window lasts for this stage (reactWindowMs). */
  windowMs: number
  /** μ as of the last tick past the warm-up: workers that are still loading their module look slow. */
  steadyMu: number
  /** The raw arrival rates of the last TREND_TICKS ticks, oldest first. */
  recent: number[]
  /** The last tick's μ reading fell by a step: one more such tick and μ takes it. */
  slowed: boolean
  /** Whether its scale-ups paid (useful-limit.ts). */
  judge: ScaleUpJudge
}

/**
 * Square-root staffing's headroom is the latency allowance of a stage that names no objective. One that
 * names `latencyObjectiveMs` gets workers for the rate balance and for that objective only (issue 20:
 * "spends workers only when that objective or the rate balance needs them"): its backlog term sizes for
 * the delay it asked for, and headroom on top would be cost it did not ask for.
 */
function staffingBetaFor (stage: EqualizedStage, init: EqualizerLoopInit): number {
  return stage.latencyObjectiveMs != null ? 0 : init.staffingBeta ?? STAFFING_BETA
}

/**
 * The equalizer loop, per stage and tick: reads a sample of each stage,
 * measures λ (arrivals, EWMA), μ (items per second of busy time, per worker:
 * DS2's true processing rate), whether the upstream waited on the stage and
 * whether the downstream held it back, asks the pure `decide` function, and
 * asks the stage to grow or drain.
 */
export class EqualizerLoop {
  private readonly tracked: Tracked[]
  private readonly tickMs: number
  private readonly capacity: CapacityProbe
  private readonly onScaled: ScaledListener
  private readonly onHeld?: HeldListener
  private timer?: NodeJS.Timeout
  private last = performance.now()

  constructor (stages: EqualizedStage[], init: EqualizerLoopInit, capacity: CapacityProbe, onScaled: ScaledListener, onHeld?: HeldListener) {
    const now = performance.now()
    this.tickMs = init.tickMs
    this.tracked = stages.map(stage => ({
      stage,
      config: { minWorkers: stage.minWorkers, maxWorkers: stage.maxWorkers, utilization: init.utilization, staffingBeta: staffingBetaFor(stage, init), deadBand: DEAD_BAND, drainMs: init.drainMs, scaleDownAfterMs: init.scaleDownAfterMs, warmupTicks: WARMUP_TICKS, lookaheadMs: LOOKAHEAD_TICKS * init.tickMs, latencyObjectiveMs: stage.latencyObjectiveMs, spareWorkers: stage.spareWorkers ?? 0 },
      // starting the minimum workers is the first action: rates measured on cold workers wait out the warm-up
      state: { ...INITIAL_STATE, ticksSinceAction: 0 },
      rates: { arrivalRate: 0, processingRate: 0, throughput: 0, pressure: 'even' },
      previous: stage.sample(now),
      fast: { at: now, arrivals: 0, waiting: 0 },
      windowMs: reactWindowMs(stage.latencyObjectiveMs),
      steadyMu: 0,
      recent: [],
      slowed: false,
      judge: new ScaleUpJudge()
    }))
    this.capacity = capacity
    this.onScaled = onScaled
    this.onHeld = onHeld
  }

  start (): void {
    this.last = performance.now()
    for (const t of this.tracked) {
      t.previous = t.stage.sample(this.last)
      t.fast = { at: this.last, arrivals: t.previous.arrivals, waiting: waitingOf(t.previous) }
      t.stage.onArrival?.(() => { this.react(t) })
    }
    this.timer = setInterval(() => { this.tick() }, this.tickMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** λ, μ and pressure of stage `index` as last measured. */
  rates (index: number): StageRates {
    const { arrivalRate, processingRate, pressure } = this.tracked[index]!.rates
    return { arrivalRate: round(arrivalRate), processingRate: round(processingRate), pressure }
  }

  private tick (): void {
    const now = performance.now()
    const seconds = Math.max(0.001, (now - this.last) / 1000)
    this.last = now
    const samples = this.tracked.map(t => t.stage.sample(now))
    this.tracked.forEach((t, i) => {
      const sample = samples[i]!
      const processed = sample.processed - t.previous.processed
      const busyMs = sample.busyMs - t.previous.busyMs
      const rates = t.rates
      const arrivalRate = (sample.arrivals - t.previous.arrivals) / seconds
      rates.arrivalRate = ewma(rates.arrivalRate, arrivalRate)
      t.recent = [...t.recent, arrivalRate].slice(-TREND_TICKS)
      rates.throughput = ewma(rates.throughput, processed / seconds)
      const mu = measureMu(rates.processingRate, processed, busyMs, Math.max(1, sample.workers, t.previous.workers) * seconds * 1000, t.slowed)
      rates.processingRate = mu.mu
      t.slowed = mu.slowed
      t.stage.adaptWindow(rates.processingRate)
      // before any steady μ, one from a whole tick of running workers (none starting) serves the
      // reactive check, so a stage started too small for its input grows before the warm-up ends
      const whole = t.steadyMu === 0 && sample.starting === 0 && t.previous.starting === 0 && t.previous.workers > 0
      if (t.state.ticksSinceAction >= t.config.warmupTicks || whole) t.steadyMu = rates.processingRate
      // upstream saturation: the entry waited for room, or the stage before was blocked on this one
      const saturated = sample.upstreamWaiting || sample.upstreamWaits > t.previous.upstreamWaits
      const blocked = sample.downstreamBlocked || sample.downstreamBlocks > t.previous.downstreamBlocks
      this.judge(t, sample, saturated, now)
      this.equalize(t, sample, saturated, blocked, now)
      t.previous = sample
    })
  }

  /**
   * Between ticks, on arrivals: when items arrived faster than the workers
   * (and those starting) drain them over each of the stage's last two
   * windows (reactWindowMs: 100 ms, less for a tight objective), and the
   * backlog grew to at least one waiting item per worker, size the stage
   * for the lower of the two rates now instead of at the next tick. Two windows, because a source that fell behind (a busy
   * event loop) catches up in one short spike that is not its rate; one
   * when the stage named a latency objective and its backlog breaches it.
   */
  private react (t: Tracked): void {
    const now = performance.now()
    if (now - t.fast.at < t.windowMs || this.timer == null) return
    const sample = t.stage.sample(now)
    const rate = (sample.arrivals - t.fast.arrivals) / ((now - t.fast.at) / 1000)
    const waiting = waitingOf(sample)
    const grew = waiting > t.fast.waiting && waiting >= sample.workers + sample.starting
    const before = t.fast.before
    t.fast = { at: now, arrivals: sample.arrivals, waiting, before: rate }
    const mu = t.steadyMu
    // a stage that named an objective and already breaches it (Little's law) acts on this window alone:
    // a second window would let the backlog grow for another window before any worker starts.
    // Not in the first window after an action, nor while workers start: the backlog grows until they
    // work, and a held-back source released by the action reads as a spike (639/s for a 300/s burst,
    // which then asked for 16 workers, not 10)
    const objectiveMs = t.config.latencyObjectiveMs
    const breached = objectiveMs != null && before != null && mu > 0 && sample.starting === 0 && waiting / (Math.max(1, sample.workers) * mu) * 1000 > objectiveMs
    const lambda = breached ? rate : Math.min(rate, before ?? 0)
    if (!grew || !(mu > 0) || lambda <= (sample.workers + sample.starting) * mu * t.config.utilization) return
    const blocked = sample.downstreamBlocked || sample.downstreamBlocks > t.previous.downstreamBlocks
    this.equalize(t, sample, false, blocked, now, lambda)
  }

  /** Once the last scale-up's workers all run past their warm-up: did they raise the stage's capacity? */
  private judge (t: Tracked, sample: StageSample, saturated: boolean, now: number): void {
    const { rates, config } = t
    // a held-back upstream offers more than arrives: as `decide` assumes, half again what the stage takes
    const offered = offeredRate(rates.arrivalRate, rates.throughput, saturated)
    const limit = t.judge.judge({ workers: sample.workers, starting: sample.starting, warmedUp: t.state.ticksSinceAction >= config.warmupTicks, mu: rates.processingRate, arrivalRate: offered, utilization: config.utilization }, now)
    if (limit != null) this.onHeld?.(t.stage.name, limit)
  }

  /** Decides for one stage and acts on it; true when it scaled. */
  private equalize (t: Tracked, sample: StageSample, saturated: boolean, blocked: boolean, now: number, reactiveRate?: number): boolean {
    const { rates, config } = t
    const mu = reactiveRate != null ? t.steadyMu : rates.processingRate
    // what the stage is sized for when it names no objective, from its measured μ (objective.ts)
    const defaultObjectiveMs = defaultLatencyObjectiveMs({ perWorkerRate: mu, concurrency: t.stage.concurrency ?? 1, windowMs: t.stage.windowMs ?? WINDOW_MS })
    const decision = decide({
      workers: sample.workers,
      starting: sample.starting,
      arrivalRate: reactiveRate ?? rates.arrivalRate,
      arrivalTrend: reactiveRate != null ? 0 : trendOf(t.recent, this.tickMs),
      reactive: reactiveRate != null,
      processingRate: mu,
      throughput: rates.throughput,
      saturated,
      downstreamBlocked: blocked,
      queued: sample.queued,
      waiting: sample.waiting,
      capacityLimit: this.capacity(t.stage.resources, Math.min(CAPACITY_LOOKAHEAD, config.maxWorkers)),
      usefulLimit: t.judge.inForce(sample.workers + sample.starting),
      nowMs: now
    }, { ...config, defaultObjectiveMs }, t.state)
    t.state = decision.state
    rates.pressure = decision.pressure
    if (decision.action === 'none') return false
    t.judge.scaled(decision.delta, sample.workers + sample.starting, mu)
    t.stage.scale(decision.delta)
    // after any action, a tick's too, two fresh windows before the reactive check acts: a window spanning
    // the action reads the held-back source it released, and alone it would size the stage for that spike
    t.fast = { at: now, arrivals: sample.arrivals, waiting: waitingOf(sample) }
    const measured = `λ ${round(reactiveRate ?? rates.arrivalRate)}/s${reactiveRate != null ? ' (since the tick)' : ''}${saturated ? ' (upstream held back)' : ''}, μ ${round(mu)}/s per worker, ${sample.queued} queued`
    this.onScaled(t.stage.name, decision.target, decision.delta, `${decision.reason} (${measured})`)
    return true
  }
}

/**
 * μ, the rate of ONE worker: items per second of busy time summed over workers (DS2's useful time).
 * Busy time runs from an item's send to its result, so it holds the round trip too; a worker that
 * mostly idles pays that round trip on every item and looks slow. Lowering μ on such a reading
 * would want more workers, each idler and slower-looking still (on a loaded machine a stage at 50
 * items/s climbed to 13 workers at a "μ" of 9/s). So a reading from workers busy under half their
 * time (`capacityMs`: workers × the interval) may raise μ, never lower it; a stage that really got
 * slower keeps its workers busy, and its reading counts. A fall by a step (over half) is taken at
 * once only when the tick before fell by a step too (`slowedBefore`): a machine that stalls for a
 * second (other processes took the CPU) reads as μ falling 3×, and sized on it a stage at 200
 * items/s with nothing queued went from 9 to 16 workers; a stage that really slowed still reads
 * slow a tick later. A single such reading only moves the average.
 */
export function measureMu (mu: number, processed: number, busyMs: number, capacityMs: number, slowedBefore = false): { mu: number, slowed: boolean } {
  if (!(busyMs > 0) || !(processed > 0)) return { mu, slowed: false }
  const reading = processed / (busyMs / 1000)
  if (reading < mu && busyMs < BUSY_ENOUGH * capacityMs) return { mu, slowed: false }
  const step = reading < mu * (1 - STEP_FACTOR)
  if (step && !slowedBefore) return { mu: EWMA_ALPHA * reading + (1 - EWMA_ALPHA) * mu, slowed: true }
  return { mu: ewma(mu, reading), slowed: step }
}

/**
 * Items/s per second that λ rose by, when it rose at every one of the last TREND_TICKS ticks, by
 * TREND_MIN_RISE at least over them (less is noise), by no step (a jump is a burst, which the reactive
 * check sizes from its rate: extrapolated, one jump would read as a steep ramp) and steadily: each
 * tick's rise at least STEADY_RISE of the one before. A step that lands mid-tick reads as a rise over
 * two or three ticks that dies away (a 300/s burst read 250, 290, 300), which is not a ramp: sized for
 * where it seemed to be going, each burst of bench:trace's bursty trace went to 10 workers for 8 needed.
 */
export function trendOf (recent: number[], tickMs: number): number {
  if (recent.length < TREND_TICKS) return 0
  for (let i = 1; i < recent.length; i++) {
    if (!(recent[i]! > recent[i - 1]!) || recent[i]! > recent[i - 1]! * (1 + STEP_FACTOR)) return 0
    if (i >= 2 && recent[i]! - recent[i - 1]! < STEADY_RISE * (recent[i - 1]! - recent[i - 2]!)) return 0
  }
  const rise = recent.at(-1)! - recent[0]!
  if (rise < TREND_MIN_RISE * recent[0]!) return 0
  return rise / ((recent.length - 1) * tickMs / 1000)
}

/**
 * The between-ticks window of a stage: REACT_WINDOW_MS, or half its latency objective when that is
 * shorter, so a burst that breaches the objective is seen within half of it. Each window a burst
 * waits to be seen is a window's worth of backlog more that queues behind it (at a 100 ms objective,
 * the 100 ms window took most of the budget before a worker was even asked for).
 */
export function reactWindowMs (latencyObjectiveMs?: number): number {
  if (latencyObjectiveMs == null || !(latencyObjectiveMs > 0)) return REACT_WINDOW_MS
  return Math.min(REACT_WINDOW_MS, Math.max(MIN_REACT_WINDOW_MS, latencyObjectiveMs / 2))
}

function waitingOf (sample: StageSample): number {
  return sample.waiting ?? sample.queued
}

function ewma (previous: number, sample: number): number {
  if (previous === 0 || Math.abs(sample - previous) > STEP_FACTOR * previous) return sample
  return EWMA_ALPHA * sample + (1 - EWMA_ALPHA) * previous
}

function round (n: number): number {
  return Math.round(n * 10) / 10
}
