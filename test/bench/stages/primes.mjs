// The primes stage for bench:equalizer: the example's work, plus the worker's pid (so the bench can SIGKILL one).
import countPrimes from '../../../examples/primes/count-primes.mjs'

export default function primes (item) {
  return { ...item, ...countPrimes(item), pid: process.pid }
}
