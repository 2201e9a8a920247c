import * as v from 'valibot'
import { Cron } from 'croner'
import { scheduleSpecSchema, MAX_INPUT_BYTES } from './types.ts'
import type { Schedule } from './types.ts'
import { ConfigError } from '../errors.ts'
import { runAfterInZone } from './cron-runs.ts'

/**
 * A stored schedule from what a caller sent: schema-checked (valibot), the cron
 * pattern and time zone parsed by croner at once (a bad one is refused here, not
 * at its first tick), the input bounded.
 */
export function makeSchedule (raw: unknown, owner: string, now: number): Schedule {
  const result = v.safeParse(scheduleSpecSchema, raw)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue.path?.map(p => String(p.key)).join('.')
    throw new ConfigError(path == null || path === '' ? 'schedule' : `schedule.${path}`, issue.message)
  }
  const spec = result.output
  const bytes = jsonBytes(spec.input ?? null)
  if (bytes > MAX_INPUT_BYTES) throw new ConfigError('schedule.input', `must be at most ${MAX_INPUT_BYTES} bytes of JSON, is ${bytes}`)
  const schedule: Schedule = {
    id: spec.id,
    ...(spec.cron != null ? { cron: spec.cron } : { everyMs: spec.everyMs }),
    timezone: spec.timezone ?? 'UTC',
    task: spec.task,
    input: spec.input ?? null,
    overlap: spec.overlap ?? 'skip',
    catchup: spec.catchup ?? false,
    paused: spec.paused ?? false,
    envelope: spec.envelope ?? false,
    owner,
    createdAt: now,
    since: now
  }
  if (schedule.cron != null && firstRunAfter(cronOf(schedule), now) == null) {
    throw new ConfigError('schedule.cron', `${JSON.stringify(schedule.cron)} never fires after now (a day its months do not have, or a year gone by)`)
  }
  return schedule
}

/** Its size as JSON; an input nested past JSON.stringify's stack (JSON.parse took it) is refused, not a RangeError. */
function jsonBytes (input: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(input))
  } catch (err) {
    throw new ConfigError('schedule.input', `cannot be written as JSON: ${(err as Error).message}`)
  }
}

/**
 * The pattern's first run after `after`, or null when it has none. croner tells "none" only after searching
 * to the year 3000 (milliseconds each time, or past its stack): a firer would pay that at every step.
 */
function firstRunAfter (cron: Cron, after: number): Date | null {
  try {
    return cron.nextRun(new Date(after))
  } catch {
    return null
  }
}

/** croner's parse of a schedule's pattern (paused: it only computes times, never runs anything). */
function cronOf (schedule: Pick<Schedule, 'cron' | 'timezone'>): Cron {
  try {
    const cron = new Cron(schedule.cron!, { timezone: schedule.timezone, paused: true })
    // a bad time zone shows only when a date is converted: matching one needs no search for the next run
    cron.match(new Date(0))
    return cron
  } catch (err) {
    throw new ConfigError('schedule.cron', `${(err as Error).message}`)
  }
}

/** What croner answered for a schedule (and pattern): its first run after `after` is `next` (undefined: none). */
interface KnownRun { after: number, next: number | undefined }
const knownRuns = new Map<string, KnownRun>()
/** Answers kept at most (every schedule the grid may hold, twice over); the oldest go first. */
const MAX_KNOWN_RUNS = 8192

/**
 * The ticks (scheduled times, ms) of `schedule` in `(after, upTo]`, the latest
 * `max` of them at most. `everyMs` ticks are multiples of it counted from the
 * epoch, so every node computes the same ones whenever it looks. A cron walk
 * starts `max` seconds before `upTo` (cron ticks are whole seconds, so no more
 * than `max` lie there), and further back only while it finds fewer: a per-second
 * pattern caught up after an hour is not 3,600 steps on the firer's event loop.
 */
export function ticksBetween (schedule: Schedule, after: number, upTo: number, max: number): number[] {
  if (upTo <= after || max <= 0) return []
  if (schedule.everyMs != null) {
    const every = schedule.everyMs
    const last = Math.floor(upTo / every) * every
    const first = Math.max(Math.floor(after / every) * every + every, last - (max - 1) * every)
    const ticks: number[] = []
    for (let t = first; t <= last; t += every) ticks.push(t)
    return ticks
  }
  // walking back from upTo would need a reverse cron; walk forward from ever earlier starts
  for (let span = max * 1000; ; span *= 4) {
    const from = Math.max(after, upTo - span)
    const ticks = cronTicks(schedule, from, upTo, max)
    if (ticks.length >= max || from === after) return ticks
  }
}

/** The cron ticks in `(after, upTo]`, walked forward, the latest `max` kept. */
function cronTicks (schedule: Schedule, after: number, upTo: number, max: number): number[] {
  const ticks: number[] = []
  let cursor = after
  for (let guard = 0; guard < 100_000; guard++) {
    const next = cronRunAfter(schedule, cursor)
    // a run at or before the cursor would be one fired already, or before the schedule was made
    if (next == null || next <= cursor || next > upTo) break
    ticks.push(next)
    if (ticks.length > max) ticks.shift()
    cursor = next
  }
  return ticks
}

/** The first tick after `after`, or undefined when the pattern has no more. */
export function nextTick (schedule: Schedule, after: number): number | undefined {
  if (schedule.everyMs != null) return Math.floor(after / schedule.everyMs) * schedule.everyMs + schedule.everyMs
  return cronRunAfter(schedule, after)
}

/**
 * The first run of a cron schedule after `after` (in its zone across DST: see runAfterInZone). A firer asks for each schedule it holds at every step
 * (100 ms), of a schedule parsed anew from the channel; croner takes 0.2-0.5 ms to answer (a parse fills a
 * 10,000-year table, a run is searched for through time-zone conversions), so 512 schedules took most of
 * each step. Its answer holds until `after` reaches `next`: no run lies between.
 */
function cronRunAfter (schedule: Schedule, after: number): number | undefined {
  const key = `${schedule.id}\n${schedule.timezone}\n${schedule.cron!}`
  const known = knownRuns.get(key)
  if (known != null && after >= known.after && (known.next == null || after < known.next)) return known.next
  let next: number | undefined
  try {
    next = runAfterInZone(schedule.cron!, schedule.timezone, after)
  } catch (err) {
    // a pattern or zone written past the API (makeSchedule refuses them)
    throw new ConfigError('schedule.cron', `${(err as Error).message}`)
  }
  knownRuns.delete(key)
  if (knownRuns.size >= MAX_KNOWN_RUNS) knownRuns.delete(knownRuns.keys().next().value!)
  knownRuns.set(key, { after, next })
  return next
}
