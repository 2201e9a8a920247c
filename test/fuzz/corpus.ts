import type { Json } from './mutate.ts'
import type { Rng } from './rng.ts'

/** Most values kept per kind: replays pick from the recent ones. */
const KEEP = 64

/**
 * Valid messages seen on the grid (heartbeats, member-table rows, channel
 * writes, worker ids, raw signed gossip): the seeds the mutations start
 * from, so mutated messages get past the first checks.
 */
export class Corpus {
  private readonly kinds = new Map<string, unknown[]>()

  add (kind: string, value: unknown): void {
    let list = this.kinds.get(kind)
    if (list == null) { list = []; this.kinds.set(kind, list) }
    list.push(value)
    if (list.length > KEEP) list.shift()
  }

  remove (kind: string, match: (value: unknown) => boolean): void {
    const list = this.kinds.get(kind)
    if (list != null) this.kinds.set(kind, list.filter(v => !match(v)))
  }

  all<T = Json> (kind: string): T[] {
    return (this.kinds.get(kind) ?? []) as T[]
  }

  /** A recent `kind` value, or `fallback()` when none was seen yet. */
  pick<T = Json> (rng: Rng, kind: string, fallback: () => T): T {
    const list = this.kinds.get(kind)
    return list == null || list.length === 0 ? fallback() : structuredClone(rng.pick(list) as T)
  }

  /** How many values of each kind were captured. */
  sizes (): Record<string, number> {
    return Object.fromEntries([...this.kinds].map(([k, v]) => [k, v.length]))
  }
}
