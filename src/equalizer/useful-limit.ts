/**
 * Whether the last scale-up paid. Sizing assumes N workers do N times the
 * work of one (DS2's linear model). That fails when the workers share a
 * bottleneck: CPU-bound workers beyond the cores, a database, a rate-limited
 * API. There every added worker slows the others, the measured rate per
 * worker falls, and λ / μ asks for more workers still: on a 2-core machine
 * a CPU-bound stage asked for more than the machine could do went from 1 to
 * the stage's maximum of 8 workers in three decisions (`bench:equalizer`),
 * each one taking CPU from the others. So after a scale-up, once its workers
 * run, the loop compares the stage's capacity (workers × μ) with what it had
 * before: when the workers added brought less than half of what they should
 * have, the stage is held at that size for a while (`UsefulLimit`). Any
 * bottleneck shows this way, whatever it is; the hold ends so a bottleneck
 * that went away (another pipeline finished, an agent joined) is found again.
 */

/** What a scale-up was expected to bring: made when the loop asks for more workers. */
export interface ScaleUpProbe {
  /** Workers (running and starting) before the scale-up. */
  from: number
  /** μ per worker the scale-up was sized with. */
  mu: number
}

/** No scale-up beyond `workers` before `untilMs` (scale-down is not affected). */
export interface UsefulLimit {
  workers: number
  untilMs: number
  /** For the log: capacity before and after, items/s. */
  before: number
  after: number
}

/** The workers added must bring at least this share of their expected capacity. */
export const MIN_GAIN = 0.5
/** How long a stage is held at the size where more workers did not help. */
export const USEFUL_LIMIT_HOLD_MS = 60_000

export interface SettledStage {
  /** Workers running, all started (none starting). */
  workers: number
  /** μ per worker measured since they run. */
  mu: number
  /** λ the stage is offered. */
  arrivalRate: number
  utilization: number
}

/**
 * The verdict on `probe` once the scale-up's workers run: a limit when they
 * did not raise capacity by MIN_GAIN of what was expected and the stage still
 * wants more than it has (a stage that now keeps up was helped, whatever its
 * μ reads; workers lost since then leave nothing to judge).
 */
export function judgeScaleUp (probe: ScaleUpProbe, settled: SettledStage, nowMs: number, holdMs = USEFUL_LIMIT_HOLD_MS): UsefulLimit | undefined {
  const added = settled.workers - probe.from
  if (added <= 0 || !(probe.mu > 0) || !(settled.mu > 0)) return undefined
  const before = probe.from * probe.mu
  const after = settled.workers * settled.mu
  if (settled.arrivalRate <= after * settled.utilization) return undefined
  if (after - before >= MIN_GAIN * added * probe.mu) return undefined
  return { workers: settled.workers, untilMs: nowMs + holdMs, before, after }
}

/** `target` clamped by a limit still in force (never below `current`: a limit does not drain). */
export function withinUsefulLimit (target: number, current: number, limit: UsefulLimit | undefined, nowMs: number): number {
  if (limit == null || nowMs >= limit.untilMs || target <= limit.workers) return target
  return Math.max(limit.workers, Math.min(target, current))
}
