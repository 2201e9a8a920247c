/**
 * The bench process's own event-loop stalls: a timer every PERIOD_MS that fires over STALL_MS late
 * is a stall (GC, a burst of protocol work, the CPU taken by other processes), printed with the GC
 * time within it. bench:trace prints them beside the slowest 1 % of items, to tell a policy's
 * queueing from a stall every policy suffers.
 */
import { PerformanceObserver } from 'node:perf_hooks'

const PERIOD_MS = 20
const STALL_MS = 10

export interface StallWatch {
  /** Stops watching; one line: how many stalls, the longest, and when (s since `t0`). */
  stop: () => string
}

export function watchStalls (t0: number): StallWatch {
  const stalls: Array<{ at: number, ms: number, gcMs: number }> = []
  // garbage collections in this process, to tell a stall of our own from the CPU taken by others
  const gcs: Array<{ start: number, end: number }> = []
  const observer = new PerformanceObserver(list => {
    for (const e of list.getEntries()) if (e.duration >= 1 && gcs.length < 10_000) gcs.push({ start: e.startTime, end: e.startTime + e.duration })
  })
  observer.observe({ entryTypes: ['gc'] })
  const gcWithin = (from: number, to: number): number => gcs.reduce((ms, g) => ms + Math.max(0, Math.min(to, g.end) - Math.max(from, g.start)), 0)
  let expected = performance.now() + PERIOD_MS
  const timer = setInterval(() => {
    const now = performance.now()
    const late = now - expected
    if (late > STALL_MS) stalls.push({ at: (now - t0) / 1000, ms: late, gcMs: gcWithin(expected - PERIOD_MS, now) })
    expected = now + PERIOD_MS
  }, PERIOD_MS)
  return {
    stop: () => {
      clearInterval(timer)
      observer.disconnect()
      if (stalls.length === 0) return `no stall over ${STALL_MS} ms`
      const longest = Math.max(...stalls.map(s => s.ms))
      const list = stalls.slice(0, 40).map(s => `${s.at.toFixed(1)} s ${Math.round(s.ms)} ms${s.gcMs >= 1 ? ` (GC ${Math.round(s.gcMs)} ms)` : ''}`).join(', ')
      return `${stalls.length} over ${STALL_MS} ms, the longest ${Math.round(longest)} ms: ${list}${stalls.length > 40 ? ', …' : ''}`
    }
  }
}
