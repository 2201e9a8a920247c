/**
 * Lifeguard's suspicion timeout: starts at `maxMs` and falls towards `minMs`
 * as independent confirmations arrive (log-scaled, reaching `minMs` at
 * `expected` confirmations), so a member the whole grid misses is failed
 * quickly, and one only a single node misses gets the full benefit of doubt.
 */
export function suspicionTimeout (confirmations: number, expected: number, minMs: number, maxMs: number): number {
  if (expected <= 0 || confirmations >= expected) return minMs
  const fraction = Math.log(confirmations + 1) / Math.log(expected + 1)
  return Math.max(minMs, maxMs - (maxMs - minMs) * fraction)
}

/**
 * Confirmations worth waiting for: Lifeguard's K, bounded by how many others could confirm. Only
 * a member's watchers claim it, so with `watchers` of them the others are `watchers - 1`.
 */
export function expectedConfirmations (members: number, watchers = 4): number {
  return Math.max(0, Math.min(watchers - 1, members - 1))
}
