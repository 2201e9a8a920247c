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
 * have, the stage is limited for a while (`UsefulLimit`) to the workers whose
 * worth of capacity it got (capacity now ÷ μ before), and drains the rest as
 * it drains any surplus. Any bottleneck shows this way, whatever it is. The
 * limit ends so a bottleneck that went away (another pipeline finished, an
 * agent joined) is found again; each time in a row the same stage is limited
 * again, it is held twice as long (a stage fed more than its bottleneck can
 * take would otherwise go up and back every minute).
 */

/** What a scale-up was expected to bring: made when the loop asks for more workers. */
export interface ScaleUpProbe {
  /** Workers (running and starting) before the scale-up. */
  from: number
  /** μ per worker the scale-up was sized with. */
  mu: number
  /** Judged short once already (the loop wants two judgements in a row). */
  misses?: number
}

/** At most `workers` before `untilMs`. */
export interface UsefulLimit {
  workers: number
  untilMs: number
  /** How long it holds (untilMs less when it was set). */
  holdMs: number
  /** Capacity before and after the scale-up, items/s (for the event). */
  before: number
  after: number
  /** Scale-ups in a row that did not pay (1 for the first): the hold doubles with each. */
  strikes: number
}

/** The workers added must bring at least this share of their expected capacity. */
export const MIN_GAIN = 0.5
/** How long a stage is held at the size where more workers did not help (the first time in a row). */
export const USEFUL_LIMIT_HOLD_MS = 60_000
/** The longest hold, however many scale-ups in a row did not pay. */
export const USEFUL_LIMIT_MAX_HOLD_MS = 600_000

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
 * The verdict on `probe` once the scale-up's workers run: `undefined` when
 * they raised capacity by MIN_GAIN of what was expected, or the stage now
 * keeps up (it was helped, whatever its μ reads), or workers were lost since
 * (nothing to judge); else a limit, at least one worker and at most those
 * running. `previous`: the last limit, whose strikes this one continues.
 */
export function judgeScaleUp (probe: ScaleUpProbe, settled: SettledStage, nowMs: number, previous?: UsefulLimit): UsefulLimit | undefined {
  const added = settled.workers - probe.from
  if (added <= 0 || !(probe.mu > 0) || !(settled.mu > 0)) return undefined
  const before = probe.from * probe.mu
  const after = settled.workers * settled.mu
  if (settled.arrivalRate <= after * settled.utilization) return undefined
  if (after - before >= MIN_GAIN * added * probe.mu) return undefined
  const worth = Math.ceil(after / probe.mu - 1e-9)
  const strikes = (previous?.strikes ?? 0) + 1
  const holdMs = Math.min(USEFUL_LIMIT_MAX_HOLD_MS, USEFUL_LIMIT_HOLD_MS * 2 ** (strikes - 1))
  return { workers: Math.max(1, probe.from, Math.min(settled.workers, worth)), untilMs: nowMs + holdMs, holdMs, before, after, strikes }
}

/** A cap on a stage's workers until `untilMs`: a limit, or no growth while a scale-up is judged. */
export type WorkerCap = Pick<UsefulLimit, 'workers' | 'untilMs'>

/** `target` within a cap still in force. */
export function withinUsefulLimit (target: number, limit: WorkerCap | undefined, nowMs: number): number {
  if (limit == null || nowMs >= limit.untilMs) return target
  return Math.min(target, limit.workers)
}

/** What the judge needs of a stage or pool at a tick. */
export interface JudgedSample extends SettledStage {
  /** Workers wanted but not running yet. */
  starting: number
  /** The last action's warm-up is over. */
  warmedUp: boolean
}

/**
 * The useful limit of one stage or task pool over time: remembers what each
 * run of scale-ups was expected to bring, judges it once its workers run past
 * their warm-up — short on two ticks in a row before it limits (one slow
 * reading is a stalled machine; no worker is added between the two) — and
 * gives `decide` the limit in force.
 */
export class ScaleUpJudge {
  private probe?: ScaleUpProbe
  private limit?: UsefulLimit

  /** After an action: a scale-up is judged against the capacity before the first of a run of them. */
  scaled (delta: number, current: number, mu: number): void {
    if (delta > 0) this.probe ??= { from: current, mu }
  }

  /** Once a tick, before deciding: a new limit when one is set now (for the event), else undefined. */
  judge (sample: JudgedSample, nowMs: number): UsefulLimit | undefined {
    const probe = this.probe
    if (probe == null || sample.starting > 0 || !sample.warmedUp) return undefined
    const limit = judgeScaleUp(probe, sample, nowMs, this.limit)
    if (limit != null && probe.misses == null) {
      probe.misses = 1
      return undefined
    }
    this.probe = undefined
    if (limit == null) {
      // a scale-up that paid after the limit ended: the bottleneck is gone, strikes start again
      if (this.limit != null && nowMs >= this.limit.untilMs) this.limit = undefined
      return undefined
    }
    this.limit = limit
    return limit
  }

  /** The limit for `decide` now: while judged short once, no more than the `current` workers. */
  inForce (current: number): WorkerCap | undefined {
    if (this.probe?.misses != null) return { workers: current, untilMs: Number.POSITIVE_INFINITY }
    return this.limit
  }
}
