import { withinUsefulLimit } from './useful-limit.ts'
import { workersFor } from './staffing.ts'
import type { WorkerCap } from './useful-limit.ts'

/** How a stage's workers compare with what its load needs. */
export type Pressure = 'high' | 'even' | 'low'

/** What one stage looks like at one equalizer tick. */
export interface EqualizerInput {
  /** Workers running (not counting ones still starting). */
  workers: number
  starting: number
  /** λ: items/s offered to the stage (EWMA). */
  arrivalRate: number
  /** How fast λ has been rising, items/s per second (0 unless it rose over each of the last ticks). */
  arrivalTrend?: number
  /** μ: items/s ONE worker processes while busy (0 or undefined: not measured yet). */
  processingRate?: number
  /** Items/s the stage actually took this tick (for a saturated upstream). */
  throughput: number
  /** The upstream had its next item ready while this stage's queue was full: λ is more than it shows. */
  saturated: boolean
  /** This stage's output waited on a full downstream: never scale it up for that. */
  downstreamBlocked: boolean
  queued: number
  /** Items waiting to start (queued, plus those held in worker windows behind the ones running); default `queued`. */
  waiting?: number
  /** A check between ticks, made because items arrived faster than the workers drain them: it may only
   * scale up, and the warm-up does not hold it back (workers still starting count as workers). */
  reactive?: boolean
  /** How many more workers the grid can place now. */
  capacityLimit: number
  /** The workers last added did not raise the stage's capacity: at most this many until it ends (useful-limit.ts). */
  usefulLimit?: WorkerCap
  nowMs: number
}

export interface EqualizerConfig {
  minWorkers: number
  maxWorkers: number
  /** Target busy fraction per worker. Default 0.9. */
  utilization: number
  /** β of square-root staffing: at least a + β√a workers for a load of a = λ/μ (staffing.ts). Default 0: ⌈a / utilization⌉ alone. */
  staffingBeta?: number
  /** Dead band as a fraction of N: within it, do nothing. Default 0.1. */
  deadBand: number
  /** The backlog should drain within this time. */
  drainMs: number
  scaleDownAfterMs: number
  warmupTicks: number
  /** Keep queueing delay (items waiting ÷ what the workers drain per second, Little's law) under this. */
  latencyObjectiveMs?: number
  /** The objective when the stage names none (objective.ts): as `latencyObjectiveMs`, but it holds back
   * right after a sized scale-up (see `decide`). */
  defaultObjectiveMs?: number
  /** Workers kept beyond the need, ready for a burst (within maxWorkers). Default 0. */
  spareWorkers?: number
  /** A rising λ is sized for where it will be this far ahead (what a decision takes to work). Default 0. */
  lookaheadMs?: number
}

export interface EqualizerState {
  ticksSinceAction: number
  /** Since when the stage has continuously wanted fewer workers. */
  lowSinceMs?: number
  /** The last action added workers. */
  lastScaledUp?: boolean
}

export interface Decision {
  target: number
  delta: number
  pressure: Pressure
  action: 'spawn' | 'kill' | 'none'
  reason: string
  state: EqualizerState
}

/** With a saturated upstream the offered rate is unknown but above what the stage takes: assume half again. */
export const SATURATION_HEADROOM = 0.5

/** The rate offered to a stage: what arrives, or with a saturated (held-back) upstream at least `headroom` over what it takes. */
export function offeredRate (arrivalRate: number, throughput: number, saturated: boolean, headroom = SATURATION_HEADROOM): number {
  return saturated ? Math.max(arrivalRate, throughput * (1 + headroom)) : arrivalRate
}

const HELD = 'held: the workers last added did not raise throughput'

export const INITIAL_STATE: EqualizerState = { ticksSinceAction: Number.POSITIVE_INFINITY }

/**
 * DS2-style sizing from true (busy-time) rates: for a load a = λ/μ plus
 * the backlog spread over `drainMs`, N* = ⌈max(a / u, a + β√a)⌉ (staffing.ts), clamped to [min, max] and to
 * what the grid can place. High pressure spawns the whole difference at
 * once; a dead band keeps noise from flapping; low pressure must last
 * `scaleDownAfterMs` before surplus workers are drained; every action is
 * followed by `warmupTicks` quiet ticks. With `latencyObjectiveMs` (else
 * `defaultObjectiveMs`, outside a sized scale-up's catch-up), N is also at
 * least what keeps the waiting items' delay under it (Little's law), at
 * ticks only. A `reactive` check (between ticks, on arrivals) may only
 * scale up, and sizes from the rate. `spareWorkers` ride on top of the need. A `usefulLimit`
 * (the last workers added did not help) caps the target, so its surplus drains like every other. Pure:
 * all time comes in `input`.
 */
export function decide (input: EqualizerInput, config: EqualizerConfig, previous: EqualizerState): Decision {
  const state: EqualizerState = { ...previous, ticksSinceAction: previous.ticksSinceAction + 1 }
  const current = input.workers + input.starting
  const mu = input.processingRate ?? 0
  if (mu <= 0 && input.reactive === true) return { target: current, delta: 0, pressure: 'even', action: 'none', reason: 'reactive check: no processing rate yet', state: previous }
  if (mu <= 0) {
    // nothing measured yet: keep the floor, and start one worker if work waits on a stage scaled to zero
    const waiting = input.queued > 0 || input.arrivalRate > 0 ? 1 : 0
    const target = Math.min(config.maxWorkers, Math.max(config.minWorkers, current, waiting))
    return act(target, current, target > current ? 'high' : 'even', 'no processing rate measured yet: keep the floor', state)
  }
  // a saturated upstream hides λ: probe with headroom, unless a scale-up was just sized from a measured λ
  // (then the held-back source is catching up on the reaction's lag, and the backlog term covers it)
  const justSized = previous.ticksSinceAction <= 2 * config.warmupTicks && previous.lastScaledUp === true
  const headroom = input.saturated && !justSized ? SATURATION_HEADROOM : 0
  const measured = offeredRate(input.arrivalRate, input.throughput, input.saturated, headroom)
  // a ramp: size for λ as it will be once the workers asked for now are up (AWS's predictive scaling, in small)
  const lambda = measured + Math.max(0, input.arrivalTrend ?? 0) * (config.lookaheadMs ?? 0) / 1000
  // the rate to sustain: what arrives, plus the backlog spread over drainMs
  const needed = lambda + input.queued / (config.drainMs / 1000)
  let wanted = workersFor(needed / mu, config.utilization, config.staffingBeta ?? 0)
  const settled = input.starting === 0 && previous.ticksSinceAction >= config.warmupTicks
  // the default objective holds back while a sized scale-up's backlog drains: that backlog is the
  // reaction's (a held-back source catching up on its lag), and sized for it a 10× step went to 32
  // workers for an optimum of 10 (`bench:equalizer`, 256 queued); a stage that named an objective asked for that
  const objectiveMs = config.latencyObjectiveMs ?? (justSized ? undefined : config.defaultObjectiveMs)
  // a named objective counts every waiting item (it caps the windows too); the default counts the queue
  // beyond the windows, whose items are the dispatch's own budget (the default leaves windows as they are)
  const backlog = config.latencyObjectiveMs != null ? input.waiting ?? input.queued : input.queued
  if (objectiveMs != null && objectiveMs > 0 && settled && input.reactive !== true) {
    // Little's law: items waiting ÷ (workers × μ) is how long the last of them waits. Not while the last
    // action's workers start or warm up: the backlog grows until they work, and sizing for it then would
    // spawn a cascade (each spawn slowing the others on a small machine). Not in a reactive check either:
    // a burst's first backlog is drained by the workers its rate needs before more could start (sized
    // for it, one burst asked for 14 workers at once where its rate needed 10, and the machine took 1.3 s
    // to start them while the backlog grew)
    wanted = Math.max(wanted, Math.ceil(backlog / (mu * objectiveMs / 1000) - 1e-9))
  }
  // spares ride on top of the need, so they are there when a burst starts; the floor already is capacity
  const need = Math.max(config.minWorkers, wanted + (config.spareWorkers ?? 0))
  let target = Math.min(config.maxWorkers, need)
  target = Math.min(target, current + Math.max(0, input.capacityLimit))
  const unlimited = target
  target = Math.max(config.minWorkers, withinUsefulLimit(target, input.usefulLimit, input.nowMs))
  const held = target < unlimited
  const band = Math.max(0, Math.floor(current * config.deadBand))
  // the band is for noise in the need, not in the clamps: a need past it that maxWorkers or the grid's
  // room clamps to within it still grows the stage (at 10 workers, maxWorkers 11 was never reached)
  let pressure: Pressure = target > current && need > current + band ? 'high' : target < current - band ? 'low' : 'even'
  // above maxWorkers (bounds lowered at run time: tasks.configure) is never even, however few the surplus
  if (current > config.maxWorkers && target < current) pressure = 'low'
  if (pressure === 'high' && input.downstreamBlocked) {
    // the stage is waiting on its downstream, not short of workers
    return act(current, current, 'even', 'downstream blocked: not scaling up', input.reactive === true ? previous : { ...state, lowSinceMs: undefined }, false)
  }
  if (current < config.minWorkers) pressure = 'high'
  if (input.reactive === true) {
    // between ticks only a shortfall counts; the tick keeps its own clock and low-pressure timer
    if (pressure !== 'high') return { target, delta: 0, pressure, action: 'none', reason: held ? HELD : 'reactive check: no shortfall', state: previous }
    return act(target, current, pressure, 'arrivals outrun the workers: spawn the difference now', previous)
  }
  if (pressure !== 'low') state.lowSinceMs = undefined
  if (state.ticksSinceAction <= config.warmupTicks && current >= config.minWorkers) {
    return { target, delta: 0, pressure, action: 'none', reason: 'warm-up after the last action', state }
  }
  if (pressure === 'even') return { target: current, delta: 0, pressure, action: 'none', reason: held ? HELD : 'within the dead band', state }
  if (pressure === 'low') {
    state.lowSinceMs ??= input.nowMs
    if (input.nowMs - state.lowSinceMs < config.scaleDownAfterMs) {
      return { target, delta: 0, pressure, action: 'none', reason: 'low pressure, waiting before scaling down', state }
    }
  }
  return act(target, current, pressure, pressure === 'high' ? 'bottleneck: spawn the difference' : held ? `${HELD}: drain them` : 'slack: drain the surplus', state)
}

function act (target: number, current: number, pressure: Pressure, reason: string, state: EqualizerState, allow = true): Decision {
  const delta = allow ? target - current : 0
  if (delta === 0) return { target, delta, pressure, action: 'none', reason, state }
  return { target, delta, pressure, action: delta > 0 ? 'spawn' : 'kill', reason, state: { ticksSinceAction: 0, lowSinceMs: undefined, lastScaledUp: delta > 0 } }
}
