/**
 * The bench process's own event-loop stalls: a timer every PERIOD_MS that fires over STALL_MS late
 * is a stall (GC, a burst of protocol work, the CPU taken by other processes). bench:trace prints them
 * beside the slowest 1 % of items, to tell a policy's queueing from a stall every policy suffers.
 */
const PERIOD_MS = 20
const STALL_MS = 10

export interface StallWatch {
  /** Stops watching; one line: how many stalls, the longest, and when (s since `t0`). */
  stop: () => string
}

export function watchStalls (t0: number): StallWatch {
  const stalls: Array<{ at: number, ms: number }> = []
  let expected = performance.now() + PERIOD_MS
  const timer = setInterval(() => {
    const now = performance.now()
    const late = now - expected
    if (late > STALL_MS) stalls.push({ at: (now - t0) / 1000, ms: late })
    expected = now + PERIOD_MS
  }, PERIOD_MS)
  return {
    stop: () => {
      clearInterval(timer)
      if (stalls.length === 0) return `no stall over ${STALL_MS} ms`
      const longest = Math.max(...stalls.map(s => s.ms))
      const list = stalls.slice(0, 40).map(s => `${s.at.toFixed(1)} s ${Math.round(s.ms)} ms`).join(', ')
      return `${stalls.length} over ${STALL_MS} ms, the longest ${Math.round(longest)} ms: ${list}${stalls.length > 40 ? ', …' : ''}`
    }
  }
}
