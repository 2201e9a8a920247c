/**
 * A simulated clock: events run in time order (ties in the order they were
 * scheduled), nothing waits on a real timer, so an hour of a 5,000-node grid
 * runs in minutes and the same seed replays the same run.
 */
export class SimClock {
  now = 0
  private heap: Array<{ at: number, seq: number, run: () => void }> = []
  private seq = 0

  at (time: number, run: () => void): void {
    const item = { at: Math.max(time, this.now), seq: this.seq++, run }
    const heap = this.heap
    heap.push(item)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (before(heap[parent]!, item)) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = item
  }

  after (delay: number, run: () => void): void {
    this.at(this.now + delay, run)
  }

  /** Runs every event due up to `time`, then leaves the clock there. */
  runUntil (time: number): void {
    const heap = this.heap
    while (heap.length > 0 && heap[0]!.at <= time) {
      const top = heap[0]!
      const last = heap.pop()!
      if (heap.length > 0) {
        let i = 0
        for (;;) {
          const l = 2 * i + 1
          const r = l + 1
          let m = i
          let best = last
          if (l < heap.length && before(heap[l]!, best)) { m = l; best = heap[l]! }
          if (r < heap.length && before(heap[r]!, best)) { m = r; best = heap[r]! }
          if (m === i) break
          heap[i] = heap[m]!
          i = m
        }
        heap[i] = last
      }
      this.now = top.at
      top.run()
    }
    this.now = time
  }
}

function before (a: { at: number, seq: number }, b: { at: number, seq: number }): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/** A small seeded PRNG (mulberry32): runs replay with `--seed`. */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
