import type { MemberEntry, MemberState } from './schema.ts'
import type { MemberEvent, MemberEventType } from './member.ts'
import { significantChange } from './member.ts'
import type { MemberRecord } from './table-record.ts'
import { markHeardAt, rowOrder } from './seq-window.ts'
import type { HeartbeatOrder } from './seq-window.ts'

/**
 * The rules for hearsay rows: members this node never verified in a handshake,
 * listed from a sync (others' word) or from heartbeats whose signer it has no
 * certificate for (their holder's word; anyone can mint a key). MemberTable
 * applies them.
 */

/** Dials a hearsay row gets before it is dropped (unless its own signed word keeps coming). */
const HEARSAY_DIALS = 3

/** What the hearsay rules use of the member table (MemberTable's own steps). */
export interface HearsayRows {
  peek: (id: string) => Readonly<MemberRecord> | undefined
  /** The row to change. */
  get: (id: string) => MemberRecord | undefined
  /** A sync entry's rule: a stranger is listed as hearsay. */
  merge: (entry: MemberEntry, now: number) => MemberEvent[]
  transition: (rec: MemberRecord, entry: MemberEntry, now: number, type: MemberEventType) => MemberEvent[]
  event: (type: MemberEventType, rec: Readonly<MemberRecord>, now: number) => MemberEvent
}

/**
 * A heartbeat (its `seq`) signed by a key no handshake verified yet: its holder's word, maybe not a
 * member's (anyone can mint keys; its relay vouches for none). Hearsay, like a sync entry (merge):
 * dialled, it takes no verified row's place, and is dropped if its dials go unanswered while it is
 * quiet (dropsUnanswered). The same incarnation is no liveness, only fresh figures (selfReported):
 * a minted key repeating itself keeps no watched row alive and refutes no suspicion. A higher
 * incarnation, its own news, refutes; `left` leaves.
 */
export function heardUnverified (rows: HearsayRows, entry: MemberEntry, now: number, seq?: number): MemberEvent[] {
  const events = unverifiedEntry(rows, entry, now)
  const rec = rows.peek(entry.id)
  // its word is in the row (listed, or its own leave): no other member's sync changes the row from now on
  if (rec != null && rec.entry.incarnation === entry.incarnation && (listed(rec.entry.state) || (entry.state === 'left' && rec.entry.state === 'left'))) {
    const row = rows.get(entry.id)!
    row.signedAt = now
    if (seq != null) markHeardAt(row, entry.incarnation, seq)
  }
  return events
}

function unverifiedEntry (rows: HearsayRows, entry: MemberEntry, now: number): MemberEvent[] {
  const seen = rows.peek(entry.id)
  if (seen == null) return rows.merge(entry, now)
  // never below the row's incarnation, even one only others claimed: with no word of its own in the
  // row there is no seq window to tell a heartbeat of an earlier life, replayed, from a fresh one
  const prior = seen.entry
  const same = entry.incarnation === prior.incarnation
  if (entry.incarnation < prior.incarnation) return []
  // left again, in a later life (see MemberTable.left): its leave holds at that incarnation
  if (entry.state === 'left' && prior.state === 'left') { rows.get(entry.id)!.entry = entry; return [] }
  if (entry.state !== 'left' && same && !listed(prior.state)) return []
  const rec = rows.get(entry.id)!
  if (entry.state === 'left') return rows.transition(rec, entry, now, 'member:leave')
  if (same || prior.state === 'alive') {
    rec.entry = same ? selfReported(prior, entry) : { ...entry, state: 'alive' }
    return significantChange(prior, rec.entry) ? [rows.event('member:update', rec, now)] : []
  }
  return rows.transition(rec, { ...entry, state: 'alive' }, now, prior.state === 'suspect' ? 'member:update' : 'member:rejoin')
}

/**
 * Whether a hearsay row holds the member's own signed word (a heartbeat signed by its key): then its
 * incarnation is the member's, and no third party's sync may change it (MemberTable.merge).
 */
export function heardOwnWord (rec: Readonly<MemberRecord>): boolean {
  return rec.seq >= 0 || rec.signedAt > -Infinity
}

/** Alive or suspect: a row that is still one of the members. */
function listed (state: MemberState): boolean {
  return state === 'alive' || state === 'suspect'
}

/**
 * What a heartbeat of an unverified signer at the row's incarnation changes: what the member
 * says of itself (load, weight, strategy, capacity, role as certified, addresses), never its
 * liveness or identity. Only its holder signs for a key, so a ghost can move no row but its
 * own, and nothing it could not already change by signing a higher incarnation.
 */
function selfReported (prior: MemberEntry, entry: MemberEntry): MemberEntry {
  return { ...entry, id: prior.id, state: prior.state, incarnation: prior.incarnation }
}

/**
 * A heartbeat's place against a row (seq-window.ts). A member's own word: its incarnation. A hearsay
 * row's incarnation may be a third party's claim, and its own word overrides that, so only the seqs
 * it signed itself (if any) tell a replay: its figures must not go back to an old heartbeat's.
 */
export function rowPlace (rec: Readonly<MemberRecord>, incarnation: number, seq: number): HeartbeatOrder {
  if (rec.direct) return rowOrder(rec, rec.entry.incarnation, incarnation, seq)
  return rec.seq < 0 ? 'new' : rowOrder(rec, rec.seqIncarnation, incarnation, seq)
}

/**
 * A dial to a hearsay row went unanswered: whether it is dropped now. After a few, unless a
 * heartbeat it signed brought news within `quietMs` (the core passes twice the refresh interval,
 * the longest an unchanged member stays quiet): a member this node cannot dial (a one-way
 * partition) would otherwise fail and be listed again at every heartbeat. Bounded all the same:
 * quiet that long, it goes at the next unanswered dial; no liveness comes of it (a watched row
 * that is silent still fails), and the failure detector's claims fail it like every other row.
 */
export function dropsUnanswered (rec: MemberRecord, now: number, quietMs: number): boolean {
  rec.unanswered++
  return rec.unanswered >= HEARSAY_DIALS && now - rec.signedAt >= quietMs
}
