/**
 * The latency objective a stage is sized for when it names none. Without one, the equalizer would size
 * only for the rate (λ / μ·u) and spread a backlog over `drainMs` (10 s): the items that queued while a
 * burst was being detected and its workers started then wait for the 10 % of spare capacity to drain
 * them, over seconds. A default in the stage's own unit of time fixes that without a number the user must
 * know: items should not wait longer than DEFAULT_OBJECTIVE_ITEMS items' work (the time one worker takes
 * per item is concurrency / μ). By Little's law that is "at most DEFAULT_OBJECTIVE_ITEMS × concurrency
 * items waiting per worker", whatever the item's cost. It is never under DEFAULT_OBJECTIVE_ITEMS credit
 * windows' latency budget (`windowMs` each): a cheap stage's windows hold hundreds of items by design
 * (batching pays for the hops), and an objective under that would want workers for the batches themselves.
 */
export const DEFAULT_OBJECTIVE_ITEMS = 4

export interface ObjectiveBasis {
  /** μ: items/s one worker processes while busy (0: not measured yet). */
  perWorkerRate: number
  /** Items one worker runs at once. */
  concurrency: number
  /** The credit window's latency budget (ms of one worker's work it holds). */
  windowMs: number
}

/** The default objective from the stage's measured μ (undefined before any μ is measured). */
export function defaultLatencyObjectiveMs (basis: ObjectiveBasis): number | undefined {
  if (!(basis.perWorkerRate > 0)) return undefined
  const itemMs = basis.concurrency * 1000 / basis.perWorkerRate
  return DEFAULT_OBJECTIVE_ITEMS * Math.max(itemMs, basis.windowMs)
}
