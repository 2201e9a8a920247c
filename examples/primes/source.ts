/** The primes example's entry: items offered at a stepped rate, phase by phase, paced by schedule (a late item is sent at once, not skipped). */
export interface Phase {
  /** Items per second offered. */
  rate: number
  seconds: number
  label: string
}

export interface PrimesItem { id: number, limit: number }

/** 4/s, then a 10x step up to 40/s, then back down: one worker, then two, then one again. */
export const PHASES: Phase[] = [
  { rate: 4, seconds: 8, label: 'warm: 4 items/s' },
  { rate: 40, seconds: 16, label: 'step up: 40 items/s' },
  { rate: 4, seconds: 16, label: 'step down: 4 items/s' }
]

/** ~25-30 ms of CPU per item on these machines. */
export const LIMIT = 400_000

export async function * primesSource (phases: Phase[], onPhase: (phase: Phase, index: number) => void = () => {}, signal?: AbortSignal): AsyncGenerator<PrimesItem> {
  let id = 0
  let at = performance.now()
  for (const [index, phase] of phases.entries()) {
    onPhase(phase, index)
    const end = at + phase.seconds * 1000
    for (let k = 0; at + k * 1000 / phase.rate < end; k++) {
      if (signal?.aborted === true) return
      const due = at + k * 1000 / phase.rate - performance.now()
      if (due > 0) await new Promise(resolve => setTimeout(resolve, due))
      yield { id: id++, limit: LIMIT }
    }
    at = end
  }
}
