/** How many heartbeat seqs below the highest heard are told apart (late or already heard). */
export const SEQ_WINDOW = 32

/** Where a heartbeat's seq stands against those heard from its member at its incarnation. */
export type HeartbeatOrder = 'new' | 'late' | 'replay'

/**
 * IPsec's anti-replay window for heartbeats (SeqWindow: the highest seq heard
 * and which of the 32 below it were). gossipsub keeps no
 * order (two heartbeats a millisecond apart take different mesh paths), so
 * one older than the highest but never heard is late, not a replay: its
 * claims still count (a watcher's suspicion, then at once its retraction,
 * must not lose the suspicion, or the suspect never hears it to refute and
 * fails everywhere). One heard before, or older than the window, is a
 * replay (an old signed heartbeat sent again after the seen-cache forgot it).
 */
export function heartbeatOrder (highest: number, seen: number, seq: number): HeartbeatOrder {
  if (seq > highest) return 'new'
  const age = highest - seq
  return age >= SEQ_WINDOW || (seen & (1 << age)) !== 0 ? 'replay' : 'late'
}

/** Seqs heard: `seq` the highest, bit k of `seqSeen` whether `seq - k` was (a member's row holds these). */
export interface SeqWindow { seq: number, seqSeen: number }

/** Notes `seq` as heard (new or late). */
export function markHeard (window: SeqWindow, seq: number): void {
  if (seq > window.seq) {
    const shift = seq - window.seq
    window.seqSeen = shift >= SEQ_WINDOW || window.seq < 0 ? 1 : ((window.seqSeen << shift) | 1) >>> 0
    window.seq = seq
  } else if (window.seq - seq < SEQ_WINDOW) {
    window.seqSeen = (window.seqSeen | (1 << (window.seq - seq))) >>> 0
  }
}

/** A member's row: its window, at which incarnation (a new incarnation starts a new window). */
export interface SeqRow extends SeqWindow { seqIncarnation: number }

/** A heartbeat's place against a row of the member's own word at `rowIncarnation`: an older incarnation is a replay too. */
export function rowOrder (row: Readonly<SeqRow>, rowIncarnation: number, incarnation: number, seq: number): HeartbeatOrder {
  if (incarnation < rowIncarnation) return 'replay'
  return incarnation === row.seqIncarnation ? heartbeatOrder(row.seq, row.seqSeen, seq) : 'new'
}

/** Notes `seq` as heard at `incarnation`. */
export function markHeardAt (row: SeqRow, incarnation: number, seq: number): void {
  if (row.seqIncarnation !== incarnation) Object.assign(row, { seq: -1, seqSeen: 0, seqIncarnation: incarnation })
  markHeard(row, seq)
}
