import type { StageRunner } from './stage-runner.ts'
import type { PipelineInit, StageSpec, StageStats } from './types.ts'
import { decide, INITIAL_STATE } from '../equalizer/index.ts'
import type { EqualizerConfig, EqualizerState } from '../equalizer/index.ts'

const EWMA_ALPHA = 0.5
/** The capacity clamp never needs to look further than this many workers ahead. */
const CAPACITY_LOOKAHEAD = 1024

interface StageRates {
  arrivalRate: number
  processingRate: number
  throughput: number
}

export type ScaledListener = (stage: string, workers: number, delta: number, reason: string) => void
export type CapacityProbe = (resources: StageSpec['resources'], limit: number) => number

/**
 * The equalizer loop, per stage and tick: measures λ (arrivals, EWMA), μ
 * (items per second of busy time, per worker: DS2's true processing rate),
 * whether the upstream saturated the stage and whether the downstream blocked
 * it, asks the pure `decide` function, and grows or drains the stage.
 */
export class Equalizer {
  private readonly stages: StageRunner[]
  private readonly tickMs: number
  private readonly rates: StageRates[]
  private readonly states: EqualizerState[]
  private readonly configs: EqualizerConfig[]
  private readonly capacity: CapacityProbe
  private readonly onScaled: ScaledListener
  private timer?: NodeJS.Timeout
  private last = performance.now()

  constructor (stages: StageRunner[], init: PipelineInit, capacity: CapacityProbe, onScaled: ScaledListener) {
    this.stages = stages
    this.tickMs = init.equalizeMs ?? 1000
    this.rates = stages.map(() => ({ arrivalRate: 0, processingRate: 0, throughput: 0 }))
    // starting the minimum workers is the first action: rates measured on cold workers wait out the warm-up
    this.states = stages.map(() => ({ ...INITIAL_STATE, ticksSinceAction: 0 }))
    this.configs = stages.map(s => ({
      minWorkers: s.spec.minWorkers,
      maxWorkers: s.spec.maxWorkers,
      utilization: init.utilization ?? 0.9,
      deadBand: 0.1,
      drainMs: init.drainMs ?? 10_000,
      scaleDownAfterMs: init.scaleDownAfterMs ?? 10_000,
      warmupTicks: 2
    }))
    this.capacity = capacity
    this.onScaled = onScaled
  }

  start (): void {
    this.last = performance.now()
    this.timer = setInterval(() => { this.tick() }, this.tickMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  stats (index: number): StageStats {
    const stage = this.stages[index]!
    const rates = this.rates[index]!
    return {
      name: stage.spec.name,
      workers: stage.workers,
      arrivalRate: round(rates.arrivalRate),
      processingRate: round(rates.processingRate),
      queued: stage.queue.length,
      inFlight: stage.inFlight,
      pressure: stage.pressure,
      window: stage.window
    }
  }

  private tick (): void {
    const now = performance.now()
    const seconds = Math.max(0.001, (now - this.last) / 1000)
    this.last = now
    for (const stage of this.stages) stage.sampleBusy(now)
    this.stages.forEach((stage, i) => {
      const rates = this.rates[i]!
      rates.arrivalRate = ewma(rates.arrivalRate, stage.arrivals / seconds)
      rates.throughput = ewma(rates.throughput, stage.processedInTick / seconds)
      if (stage.busyMsInTick > 0 && stage.processedInTick > 0) {
        // busy time summed over workers: items per busy second is the rate of ONE worker
        rates.processingRate = ewma(rates.processingRate, stage.processedInTick / (stage.busyMsInTick / 1000))
      }
      stage.adaptWindow(rates.processingRate)
      // upstream saturation: the entry had items waiting for room, or the stage before was blocked on this one
      const saturated = i === 0 ? stage.saturatedInTick : this.stages[i - 1]!.blockedInTick
      this.equalize(i, rates, saturated, now)
    })
    for (const stage of this.stages) stage.resetTick()
  }

  private equalize (i: number, rates: StageRates, saturated: boolean, now: number): void {
    const stage = this.stages[i]!
    const config = this.configs[i]!
    const decision = decide({
      workers: stage.workers,
      starting: stage.starting,
      arrivalRate: rates.arrivalRate,
      processingRate: rates.processingRate,
      throughput: rates.throughput,
      saturated,
      downstreamBlocked: stage.blockedInTick,
      queued: stage.queue.length,
      capacityLimit: this.capacity(stage.spec.resources, Math.min(CAPACITY_LOOKAHEAD, config.maxWorkers)),
      nowMs: now
    }, config, this.states[i]!)
    this.states[i] = decision.state
    stage.pressure = decision.pressure
    if (decision.action === 'none') return
    stage.totals.decisions++
    if (decision.action === 'spawn') void stage.grow(decision.delta)
    else stage.shrink(-decision.delta)
    const measured = `λ ${round(rates.arrivalRate)}/s${saturated ? ' (upstream held back)' : ''}, μ ${round(rates.processingRate)}/s per worker, ${stage.queue.length} queued`
    this.onScaled(stage.spec.name, decision.target, decision.delta, `${decision.reason} (${measured})`)
  }
}

/** A sample this far from the average is a step, not noise: take it at once (DS2 acts on the last interval's true rates). */
const STEP_FACTOR = 0.5

function ewma (previous: number, sample: number): number {
  if (previous === 0 || Math.abs(sample - previous) > STEP_FACTOR * previous) return sample
  return EWMA_ALPHA * sample + (1 - EWMA_ALPHA) * previous
}

function round (n: number): number {
  return Math.round(n * 10) / 10
}
