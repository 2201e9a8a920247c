import type { Claim, LiveReport, MemberRecord } from './table-record.ts'

/** What the gossiped claims read of the member table: its rows, and its own judgement of them. */
export interface ClaimRows {
  peek: (id: string) => Readonly<MemberRecord> | undefined
  /** Whether this node watches the member (only a watcher's silence or word is evidence). */
  watches: (id: string) => boolean
  hearsRecently: (rec: Readonly<MemberRecord>, now: number) => boolean
}

/**
 * What a heartbeat claims of others: the members among `ids` (suspect or failed) that this
 * node's own evidence made so, the failed ones for `failedForMs` after they failed.
 */
export function ownClaims (ids: Iterable<string>, rows: ClaimRows, now: number, failedForMs: number): Claim[] {
  const claims: Claim[] = []
  for (const id of ids) {
    const rec = rows.peek(id)
    if (rec == null || !rec.ownClaim) continue
    const state = rec.entry.state
    if (state === 'suspect' || (state === 'failed' && now - rec.stateSince < failedForMs)) {
      claims.push({ id: rec.entry.id, incarnation: rec.entry.incarnation, state })
    }
  }
  return claims
}

/** Live reports: members someone else doubts (`contested`, pruned here once the doubt expired) that we, watching them, still hear. */
export function liveReports (contested: Set<string>, rows: ClaimRows, now: number): LiveReport[] {
  const reports: LiveReport[] = []
  for (const id of contested) {
    const rec = rows.peek(id)
    if (rec == null || rec.contestedUntil <= now) {
      contested.delete(id)
      continue
    }
    // only a watcher's word: everyone hears a refutation, and if everyone reported it the
    // reports would cost N messages per incident
    if (!rows.watches(id)) continue
    if (rec.entry.state === 'alive' && rows.hearsRecently(rec, now)) {
      reports.push({ id: rec.entry.id, incarnation: rec.entry.incarnation, ageMs: now - rec.lastHeardAt })
    }
  }
  return reports
}
