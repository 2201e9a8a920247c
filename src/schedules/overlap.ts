import type { Overlap } from './types.ts'

/** A run a schedule started: done once its task is final. */
export interface Run {
  settled: Promise<unknown>
  final: boolean
}

/**
 * The overlap policy of one schedule on its firer: `skip` a tick while the
 * previous run goes on, `buffer-one` (keep at most one tick to start when it
 * ends), or `allow` runs side by side. Judged from the runs this node started.
 */
export class OverlapGate {
  private running?: Run
  private buffered?: number

  /** What to do with tick `tick` now: start it, keep it for later, or skip it. */
  admit (overlap: Overlap, tick: number): 'start' | 'buffer' | 'skip' {
    if (overlap === 'allow' || this.running == null || this.running.final) return 'start'
    if (overlap === 'buffer-one' && this.buffered == null) {
      this.buffered = tick
      return 'buffer'
    }
    return 'skip'
  }

  /** Records the run just started; `onFree(bufferedTick)` runs when it ends with a tick kept. */
  started (run: Run, onFree: (tick: number) => void): void {
    this.running = run
    void run.settled.then(() => {
      if (this.running !== run) return
      this.running = undefined
      const tick = this.buffered
      this.buffered = undefined
      if (tick != null) onFree(tick)
    })
  }

  get busy (): boolean {
    return this.running != null && !this.running.final
  }
}
