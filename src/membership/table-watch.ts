import type { MemberRecord } from './table-record.ts'

/**
 * A member this node starts watching has had no way to beat to it yet: the
 * watcher may have no connection to it (beyond the mesh cap, or a joiner not
 * yet dialled), and the beat line opens at the watcher's next period. Its
 * silence counts from when its line opened (`lineOpened`, a window after it
 * was watched at the latest), or from its first beat, not from when it was
 * watched; a line that never opens gets one more silence window: a member
 * that never beats is suspected within 2 windows of being watched, whatever
 * its line does.
 */

/** Marks `rec`, newly watched at `now`, as awaiting its line: the usual window of grace from now, and the wait for the line on top. */
export function startWatching (rec: MemberRecord, now: number): void {
  if (rec.lastHeardAt < now) rec.lastHeardAt = now
  rec.watchedAt = now
}

/**
 * The line to `rec` opened: its first beat is on its way, so its silence counts from now (once per watch: a
 * reopened line earns nothing), but from no later than a window after it was watched: a line that opened
 * just before the bound would otherwise give a member that never beats a third window.
 */
export function lineOpened (rec: MemberRecord, now: number, windowMs: number): void {
  if (rec.watchedAt == null) return
  const from = Math.min(now, rec.watchedAt + windowMs)
  rec.watchedAt = undefined
  if (rec.lastHeardAt < from) rec.lastHeardAt = from
}

/** Whether `rec` still waits for its line within the bound (one more window after the grace): its silence is no evidence yet. */
export function awaitingLine (rec: Readonly<MemberRecord>, now: number, windowMs: number): boolean {
  return rec.watchedAt != null && now - rec.watchedAt < 2 * windowMs
}
