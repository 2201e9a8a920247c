import type { StageRunner } from './stage-runner.ts'
import type { PipelineInit, StageStats } from './types.ts'

const EWMA_ALPHA = 0.5

interface StageRates {
  arrivalRate: number
  processingRate: number
  throughput: number
}

/**
 * The measuring side of the equalizer, per stage and tick: λ (arrivals, EWMA),
 * μ (items per second of busy time, per worker: DS2's true processing rate),
 * and whether the stage was saturated by its upstream or blocked by its
 * downstream. Decisions come from the pure decide function.
 */
export class Equalizer {
  private readonly stages: StageRunner[]
  private readonly tickMs: number
  private readonly rates: StageRates[]
  private readonly onScaled: (stage: string, workers: number, delta: number, reason: string) => void
  private timer?: NodeJS.Timeout
  private last = performance.now()

  constructor (stages: StageRunner[], init: PipelineInit, onScaled: (stage: string, workers: number, delta: number, reason: string) => void) {
    this.stages = stages
    this.tickMs = init.equalizeMs ?? 1000
    this.rates = stages.map(() => ({ arrivalRate: 0, processingRate: 0, throughput: 0 }))
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
      pressure: stage.pressure
    }
  }

  private tick (): void {
    const now = performance.now()
    const seconds = Math.max(0.001, (now - this.last) / 1000)
    this.last = now
    this.stages.forEach((stage, i) => {
      stage.sampleBusy(now)
      const rates = this.rates[i]!
      rates.arrivalRate = ewma(rates.arrivalRate, stage.arrivals / seconds)
      rates.throughput = ewma(rates.throughput, stage.processedInTick / seconds)
      if (stage.busyMsInTick > 0 && stage.processedInTick > 0) {
        rates.processingRate = ewma(rates.processingRate, stage.processedInTick / (stage.busyMsInTick / 1000) * stage.spec.concurrency / Math.max(1, stage.spec.concurrency))
      }
      this.decide(stage, rates)
      stage.arrivals = 0
      stage.processedInTick = 0
      stage.busyMsInTick = 0
      stage.blockedInTick = false
      stage.saturatedInTick = false
    })
  }

  private decide (stage: StageRunner, rates: StageRates): void {
    void this.onScaled
    void rates
    void stage
  }
}

function ewma (previous: number, sample: number): number {
  return previous === 0 ? sample : EWMA_ALPHA * sample + (1 - EWMA_ALPHA) * previous
}

function round (n: number): number {
  return Math.round(n * 10) / 10
}
