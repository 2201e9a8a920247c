/**
 * Whose tail is it: of the items in one policy's slowest 1 %, the share also in the slowest 1 % of the
 * policy run beside it (same trace, same instant, the same items by their place in the schedule). Near
 * 100 %: the same items were slow under both, so what the machine did while they were in flight set the
 * tail, not how either policy sized the stage. Near 1 % (chance): each policy's slow items were its own.
 */

/** The ids (places in the schedule) of the slowest `fraction` of items; a lost item (NaN) counts as slowest. */
export function slowestIds (byItem: ArrayLike<number>, fraction = 0.01): Set<number> {
  const ids = Array.from({ length: byItem.length }, (_, i) => i)
  const key = (i: number): number => Number.isNaN(byItem[i]!) ? Number.POSITIVE_INFINITY : byItem[i]!
  ids.sort((a, b) => key(b) - key(a) || a - b)
  return new Set(ids.slice(0, Math.ceil(byItem.length * fraction)))
}

/** How many of `a`'s slowest items are also among `b`'s (`of`: how many `a`'s slowest are). */
export function sharedSlowest (a: ArrayLike<number>, b: ArrayLike<number>, fraction = 0.01): { shared: number, of: number } {
  if (a.length !== b.length) throw new Error(`sharedSlowest: runs of ${a.length} and ${b.length} items are not the same trace`)
  const mine = slowestIds(a, fraction)
  const theirs = slowestIds(b, fraction)
  let shared = 0
  for (const id of mine) if (theirs.has(id)) shared++
  return { shared, of: mine.size }
}
