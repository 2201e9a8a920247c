import type { MemberEntry } from './schema.ts'

export interface MemberTableInit {
  selfId: string
  suspectAfterMs: number
  suspicionMinMs: number
  suspicionMaxMs: number
  /** How long failed members stay listed (and are redialled). */
  forgetFailedAfterMs: number
  /** How long members that left stay listed (then `forget` drops them). */
  forgetLeftAfterMs: number
  /** Most rows the table holds: a sync cannot grow it without end. */
  maxMembers: number
  /** How many watch each member (their claims confirm a suspicion); default 4 (3 confirmations). */
  watchers?: number
  /** A member was not added because the table is full. */
  onFull?: (id: string) => void
  /** A member became watchable (alive or suspect) or stopped being so: whom MonitorRing places. */
  onWatchable?: (id: string, watchable: boolean) => void
}

export interface MemberRecord {
  entry: MemberEntry
  lastHeardAt: number
  /** When this node last had the member's own signed word (live reports of others do not count). */
  ownWordAt: number
  stateSince: number
  suspectedAt: number
  /** Who else claimed it while we suspect it; made when needed (most rows never need one). */
  confirmations?: Set<string>
  /** Until when someone else claims this member is suspect or failed (so we report what we hear). */
  contestedUntil: number
  /**
   * Whether this node has had the member's own word from a key a handshake verified
   * (a heartbeat, its own sync row, a beat or a ping's answer). A row only others told
   * us of, or only an unverified key signed, is hearsay: its own word overrides it
   * whatever incarnation they claimed, and if it never answers it is dropped, not redialled.
   */
  direct: boolean
  /** The highest heartbeat `seq` heard at `seqIncarnation`, and which of the seqs below it were (seq-window.ts). */
  seq: number
  seqSeen: number
  seqIncarnation: number
  /** Dials that timed out while the row was hearsay. */
  unanswered: number
  /** When a heartbeat of an unverified signer (the member's key, maybe no member's) last brought news to the row; -Infinity before. */
  signedAt: number
  /**
   * Whether this node's own evidence (silence of a member it watches, a refused redial) made the
   * row suspect or failed: only such claims are gossiped. A suspicion learned from others is not
   * repeated, or every node would re-broadcast every incident and the traffic would grow with N.
   */
  ownClaim: boolean
  /** When this node started watching the member, until its beat line opened or it beat (table-watch.ts). */
  watchedAt?: number
}

export interface Claim {
  id: string
  incarnation: number
  state: 'suspect' | 'failed'
}

export interface LiveReport {
  id: string
  incarnation: number
  ageMs: number
}
