/**
 * Who watches whom (Akka Cluster's heartbeat ring): members sorted by a hash
 * of their id form a ring, and each member pings the `k` that follow it. So
 * every member is watched by `k` others whatever the grid's size, and a node's
 * failure-detection work is constant: the linear term of everyone hearing
 * everyone's heartbeat is gone. Every node computes the ring from its own
 * table; views that differ for a moment only shift a watcher, never leave a
 * member unwatched for long (its predecessors in any view ping it).
 */
export class MonitorRing {
  private readonly hashes = new Map<string, number>()
  private sorted: string[] = []

  /** The `k` members after `selfId` on the ring of `ids` (which may include `selfId`). */
  targets (selfId: string, ids: Iterable<string>, k: number): string[] {
    this.update(selfId, ids)
    const ring = this.sorted
    const n = ring.length
    if (n <= 1 || k <= 0) return []
    const at = ring.indexOf(selfId)
    const out: string[] = []
    for (let i = 1; i < n && out.length < k; i++) out.push(ring[(at + i) % n]!)
    return out
  }

  private update (selfId: string, ids: Iterable<string>): void {
    const all = new Set(ids)
    all.add(selfId)
    // the ring changes a member or two at a time: splice those in or out, no sort of the whole
    if (this.sorted.length > 0) {
      const gone = this.sorted.filter(id => !all.has(id))
      for (const id of gone) this.sorted.splice(this.position(id), 1)
      for (const id of gone) this.hashes.delete(id)
      const present = new Set(this.sorted)
      for (const id of all) if (!present.has(id)) this.sorted.splice(this.position(id), 0, id)
      return
    }
    this.sorted = [...all].sort((a, b) => this.compare(a, b))
  }

  /** Where `id` is or would go in the sorted ring (binary search). */
  private position (id: string): number {
    let lo = 0
    let hi = this.sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.compare(this.sorted[mid]!, id) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private compare (a: string, b: string): number {
    return (this.hash(a) - this.hash(b)) || (a < b ? -1 : a > b ? 1 : 0)
  }

  private hash (id: string): number {
    let h = this.hashes.get(id)
    if (h == null) {
      h = fnv1a(id)
      this.hashes.set(id, h)
    }
    return h
  }
}

/** FNV-1a, 32 bits: spreads peer ids (which share long prefixes) around the ring. */
export function fnv1a (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}
