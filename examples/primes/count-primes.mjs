// CPU-bound stage: counts the primes below `limit` by trial division.
export default function countPrimes ({ id, limit }) {
  let count = 0
  for (let n = 2; n < limit; n++) {
    let prime = true
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) { prime = false; break }
    }
    if (prime) count++
  }
  return { id, limit, count }
}
