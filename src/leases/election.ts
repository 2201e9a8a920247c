import { createHash } from 'node:crypto'

/**
 * Rendezvous (highest-random-weight) hashing: the holder of a keyed job (a
 * schedule's firer, a deployment's owner) is the candidate whose sha256(key,
 * peer id) is highest. Every member that sees the same candidates picks the
 * same one, with no messages; when a candidate goes, only the jobs it held
 * move (to their second choice), and jobs spread evenly over the candidates.
 */
export function electHolder (key: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestScore = ''
  for (const peer of candidates) {
    const score = createHash('sha256').update(key).update('\0').update(peer).digest('hex')
    if (best == null || score > bestScore || (score === bestScore && peer < best)) {
      best = peer
      bestScore = score
    }
  }
  return best
}
