/** Bounds and latency budget of an adaptive credit window (pipeline stages, task pools). */
export interface WindowBounds {
  min: number
  max: number
  /** Work (at the measured per-worker rate) a worker's window should hold, in ms. */
  holdMs: number
}

/**
 * The credit window for a measured per-worker rate: about `holdMs` of one
 * worker's work (a bandwidth-delay product with a latency budget), so cheap
 * items cross each hop in large batches and costly ones keep only a few queued
 * per worker. It grows at once, but shrinks only when the work it holds falls
 * under a quarter of it: the rate is measured on busy time, which includes the
 * round trip, so a window that shrank on any slower reading would shrink on a
 * slow link too, and measure slower still. With the band, only a round trip
 * over 4 × `holdMs` shrinks the window of cheap items.
 */
export function adaptedWindow (current: number, perWorkerRate: number, bounds: WindowBounds): number {
  if (!(perWorkerRate > 0)) return current
  const work = perWorkerRate * bounds.holdMs / 1000
  if (work >= current) return Math.min(bounds.max, Math.ceil(work))
  if (work < current / 4) return Math.max(bounds.min, Math.ceil(work))
  return current
}
