import { createHash } from 'node:crypto'

/**
 * Rendezvous (highest-random-weight) hashing: the firer of a schedule is the
 * candidate whose sha256(schedule id, peer id) is highest. Every member that
 * sees the same candidates picks the same one, with no messages; when a
 * candidate goes, only the schedules it was firing move (to their second
 * choice), and schedules spread evenly over the API nodes.
 */
export function electFirer (scheduleId: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestScore = ''
  for (const peer of candidates) {
    const score = createHash('sha256').update(scheduleId).update('\0').update(peer).digest('hex')
    if (best == null || score > bestScore || (score === bestScore && peer < best)) {
      best = peer
      bestScore = score
    }
  }
  return best
}
