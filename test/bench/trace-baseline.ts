/**
 * bench:trace's target-tracking baseline, Kubernetes HPA style: every tick
 * (1 s) it reads the stage's busy fraction (items processed × the calibrated
 * time per item ÷ running workers), wants ⌈workers × busy / target⌉ (target
 * 70 %, a 10 % tolerance around it does nothing), scales up at once, and
 * scales down only to the highest recommendation of the last 15 s (HPA's
 * downscale stabilization window). It drives the run through
 * `run.scaleStage` on a run with `equalize: false`.
 */
import type { PipelineRun } from '../../src/pipeline/run.ts'
import type { Policy } from './trace-run.ts'

export interface TargetTrackingInit {
  /** One worker's calibrated rate (items/s when busy all the time). */
  mu: number
  target?: number
  tickMs?: number
  stabilizationMs?: number
  tolerance?: number
}

export function targetTracking (init: TargetTrackingInit): NonNullable<Policy['drive']> {
  const { mu, target = 0.7, tickMs = 1000, stabilizationMs = 15_000, tolerance = 0.1 } = init
  return (run: PipelineRun, stage: string) => {
    let decisions = 0
    let processed = 0
    let at = performance.now()
    let wanted = 1
    const recommendations: Array<{ at: number, workers: number }> = []
    const timer = setInterval(() => {
      const now = performance.now()
      const done = run.totals().find(s => s.name === stage)?.processed ?? 0
      const workers = run.stats().stages.find(s => s.name === stage)?.workers ?? 0
      const busy = workers === 0 ? 0 : Math.min(1, (done - processed) / mu / ((now - at) / 1000) / workers)
      processed = done
      at = now
      if (workers === 0) return
      const ratio = busy / target
      const desired = Math.abs(ratio - 1) <= tolerance ? workers : Math.max(1, Math.ceil(workers * ratio))
      recommendations.push({ at: now, workers: desired })
      while (recommendations[0]!.at < now - stabilizationMs) recommendations.shift()
      // up at once; down only as far as the highest recommendation in the window
      const next = desired >= wanted ? desired : Math.max(...recommendations.map(r => r.workers))
      if (next !== wanted) {
        wanted = run.scaleStage(stage, next)
        decisions++
      }
    }, tickMs)
    return { stop: () => { clearInterval(timer); return decisions } }
  }
}
