import { Cron } from 'croner'

/**
 * A cron pattern's next run in an IANA zone, across the zone's offset changes (DST).
 *
 * croner runs every pattern once in a repeated hour (autumn), at its first occurrence, and asked from a time
 * inside the second pass it answers the first pass's time, an hour before the time it was asked from. gridd
 * follows Vixie cron instead: a pattern whose hour field is a wildcard or a step (`*`, `*\/2`, `@hourly`)
 * runs by real elapsed time, so both passes of the repeated hour (and nothing of a skipped one); a pattern
 * with fixed hours runs once there, at the first pass, as croner does, and its times in a skipped hour
 * (spring) are croner's: the first of them runs once, an hour later (`30 2 * * *` at 03:30 on that day).
 * Either way a run is always after the time asked from.
 */
export function runAfterInZone (pattern: string, zone: string, after: number): number | undefined {
  return hourIsWildcard(pattern) ? runByElapsedTime(pattern, zone, after) : runOnceInRepeatedHour(pattern, zone, after)
}

/** Whether the hour field is `*`, `?` or a step (Vixie cron's "wildcard" job for DST): `@hourly` too. */
export function hourIsWildcard (pattern: string): boolean {
  const fields = pattern.trim().split(/\s+/)
  if (fields.length === 1) return fields[0]!.toLowerCase() === '@hourly'
  const hour = fields[fields.length === 5 ? 1 : 2] ?? ''
  return hour.startsWith('*') || hour.startsWith('?') || hour.includes('/')
}

/** Offsets are sampled this far apart (then bisected): a change undone within less than this is not seen. */
const OFFSET_SAMPLE_MS = 7 * 86_400_000
/** Offset segments walked at most for one run (two a year in a DST zone: a century's worth). */
const MAX_SEGMENTS = 256

/**
 * The first instant after `after` whose wall-clock time in `zone` matches: within a stretch of constant offset
 * the zone is a fixed UTC offset, and croner at that offset answers without any DST rule of its own (and 20
 * times faster than in a zone); when the offset changes before the answer, the search goes on from the change.
 */
function runByElapsedTime (pattern: string, zone: string, after: number): number | undefined {
  let from = after
  for (let segment = 0; segment < MAX_SEGMENTS; segment++) {
    const offset = offsetAt(zone, from + 1)
    const next = atOffset(pattern, offset).nextRun(new Date(from))?.getTime()
    if (next == null) return undefined
    const change = firstOffsetChange(zone, from + 1, next, offset)
    if (change == null) return next
    from = change - 1
  }
  return runOnceInRepeatedHour(pattern, zone, after)
}

/** croner's run in the zone; asked from the second pass of a repeated hour, the first run after that pass ends. */
function runOnceInRepeatedHour (pattern: string, zone: string, after: number): number | undefined {
  const cron = inZone(pattern, zone)
  let next = cron.nextRun(new Date(after))?.getTime()
  if (next == null || next > after) return next
  // `next` is the first pass's time (before the clock was turned back), `after` is in the second pass
  const before = offsetAt(zone, next)
  const turnedBack = firstOffsetChange(zone, next + 1, after, before) ?? after
  // the second pass ends when the wall clock is back where it was turned back from
  let from = Math.max(after, turnedBack + before - offsetAt(zone, after) - 1)
  for (let attempt = 0; attempt < 4 && next != null && next <= after; attempt++, from += 3600_000) {
    next = cron.nextRun(new Date(from))?.getTime()
  }
  return next != null && next > after ? next : undefined
}

/** The first instant in `[lo, hi]` whose offset is not `offset` (the offset at `lo`), or undefined. */
function firstOffsetChange (zone: string, lo: number, hi: number, offset: number): number | undefined {
  let same = lo
  for (let probe = Math.min(lo + OFFSET_SAMPLE_MS, hi); ; probe = Math.min(probe + OFFSET_SAMPLE_MS, hi)) {
    if (offsetAt(zone, probe) !== offset) {
      let changed = probe
      while (changed - same > 1) {
        const mid = same + Math.floor((changed - same) / 2)
        if (offsetAt(zone, mid) === offset) same = mid
        else changed = mid
      }
      return changed
    }
    if (probe >= hi) return undefined
    same = probe
  }
}

const formats = new Map<string, Intl.DateTimeFormat>()
const MAX_CACHED = 1024

/** The zone's UTC offset (ms) at `at`: its wall clock read there, less the instant (both to the second). */
export function offsetAt (zone: string, at: number): number {
  let format = formats.get(zone)
  if (format == null) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' })
    if (formats.size >= MAX_CACHED) formats.clear()
    formats.set(zone, format)
  }
  const second = Math.floor(at / 1000) * 1000
  const p: Record<string, string> = {}
  for (const part of format.formatToParts(second)) p[part.type] = part.value
  const year = p.era === 'BC' ? 1 - Number(p.year) : Number(p.year)
  const wall = new Date(0)
  wall.setUTCFullYear(year, Number(p.month) - 1, Number(p.day))
  wall.setUTCHours(Number(p.hour), Number(p.minute), Number(p.second), 0)
  return wall.getTime() - second
}

const parsed = new Map<string, Cron>()

/** croner's parse of a pattern at a fixed offset (kept: a walk asks at every tick). */
function atOffset (pattern: string, offsetMs: number): Cron {
  // croner takes whole minutes; only local mean times before ~1900 have seconds in their offset
  const minutes = Math.round(offsetMs / 60_000)
  return cached(`${minutes}\n${pattern}`, () => new Cron(pattern, { utcOffset: minutes, paused: true }))
}

/** croner's parse of a pattern in a zone (paused: it only computes times, never runs anything). */
export function inZone (pattern: string, zone: string): Cron {
  return cached(`${zone}\n${pattern}`, () => new Cron(pattern, { timezone: zone, paused: true }))
}

function cached (key: string, make: () => Cron): Cron {
  let cron = parsed.get(key)
  if (cron == null) {
    cron = make()
    if (parsed.size >= MAX_CACHED) parsed.delete(parsed.keys().next().value!)
    parsed.set(key, cron)
  }
  return cron
}
