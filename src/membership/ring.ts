/**
 * Who watches whom (Akka Cluster's heartbeat ring): members sorted by a hash
 * of their id form a ring, and each member pings the `k` that follow it. So
 * every member is watched by `k` others whatever the grid's size, and a node's
 * failure-detection work is constant: the linear term of everyone hearing
 * everyone's heartbeat is gone. Every node computes the ring from its own
 * table; views that differ for a moment only shift a watcher, never leave a
 * member unwatched for long (its predecessors in any view ping it).
 *
 * The member table tells the ring who comes and goes (`add`, `remove`); the
 * changes wait until the targets are next read and then go in as one merge
 * of sorted lists. So a change costs one pass over the ring, with no sets of
 * every member built per change, and a table loaded with thousands of
 * members at once sorts them once.
 */
export class MonitorRing {
  /** Member ids in ring order, and their hashes at the same positions. */
  private ids: string[] = []
  private hashes: number[] = []
  private readonly adding = new Set<string>()
  private readonly removing = new Set<string>()

  add (id: string): void {
    this.removing.delete(id)
    this.adding.add(id)
  }

  remove (id: string): void {
    this.adding.delete(id)
    this.removing.add(id)
  }

  /** The `k` members after `selfId` on the ring (`selfId` itself is never one, member or not). */
  successors (selfId: string, k: number): string[] {
    this.apply()
    const ring = this.ids
    const n = ring.length
    const out: string[] = []
    if (k <= 0 || n === 0) return out
    const at = this.position(fnv1a(selfId), selfId)
    for (let i = 0; i < n && out.length < k; i++) {
      const id = ring[(at + i) % n]!
      if (id !== selfId) out.push(id)
    }
    return out
  }

  private apply (): void {
    if (this.removing.size > 0) {
      const ids: string[] = []
      const hashes: number[] = []
      for (let i = 0; i < this.ids.length; i++) {
        if (this.removing.has(this.ids[i]!)) continue
        ids.push(this.ids[i]!)
        hashes.push(this.hashes[i]!)
      }
      this.ids = ids
      this.hashes = hashes
      this.removing.clear()
    }
    if (this.adding.size === 0) return
    const incoming = [...this.adding].map(id => ({ id, hash: fnv1a(id) })).sort((a, b) => compare(a.hash, a.id, b.hash, b.id))
    this.adding.clear()
    // merge the two sorted lists; an id already on the ring (removed and added back) stays once
    const ids: string[] = []
    const hashes: number[] = []
    let i = 0
    let j = 0
    while (i < this.ids.length || j < incoming.length) {
      const order = j === incoming.length ? -1 : i === this.ids.length ? 1 : compare(this.hashes[i]!, this.ids[i]!, incoming[j]!.hash, incoming[j]!.id)
      if (order <= 0) {
        ids.push(this.ids[i]!)
        hashes.push(this.hashes[i]!)
        i++
        if (order === 0) j++
      } else {
        ids.push(incoming[j]!.id)
        hashes.push(incoming[j]!.hash)
        j++
      }
    }
    this.ids = ids
    this.hashes = hashes
  }

  /** Where (`hash`, `id`) is or would go in the ring (binary search). */
  private position (hash: number, id: string): number {
    let lo = 0
    let hi = this.ids.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compare(this.hashes[mid]!, this.ids[mid]!, hash, id) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

function compare (hashA: number, idA: string, hashB: number, idB: string): number {
  return (hashA - hashB) || (idA < idB ? -1 : idA > idB ? 1 : 0)
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
