import { compareStamps } from './hlc.ts'
import type { Stamp } from './hlc.ts'

/** One key's latest write: a value, or a tombstone that remembers the delete. */
export interface Entry extends Stamp {
  key: string
  value?: unknown
  deleted: boolean
}

/**
 * A last-writer-wins map (pure, no I/O): a write replaces the key's entry only
 * if its stamp is later, so every replica that has seen the same writes holds
 * the same map whatever the order they arrived in. Deletes stay as tombstones
 * until `expire` drops those older than the TTL.
 */
export class LwwStore {
  private readonly map = new Map<string, Entry>()

  /** Applies `entry` if it is newer than what the key holds; returns the entry it replaced (or null when stale). */
  apply (entry: Entry): { previous?: Entry } | null {
    const current = this.map.get(entry.key)
    if (current != null && compareStamps(entry, current) <= 0) return null
    this.map.set(entry.key, entry)
    return { previous: current }
  }

  entry (key: string): Entry | undefined {
    return this.map.get(key)
  }

  get (key: string): unknown {
    const e = this.map.get(key)
    return e == null || e.deleted ? undefined : e.value
  }

  /** Live keys and values. */
  entries (): Array<[string, unknown]> {
    return [...this.map.values()].filter(e => !e.deleted).map(e => [e.key, e.value])
  }

  get size (): number {
    let n = 0
    for (const e of this.map.values()) if (!e.deleted) n++
    return n
  }

  /** Everything, tombstones included: what a snapshot carries. */
  all (): Entry[] {
    return [...this.map.values()]
  }

  /** Drops tombstones whose delete is older than `ttlMs`; returns how many. */
  expire (nowMs: number, ttlMs: number): number {
    let n = 0
    for (const [key, e] of this.map) {
      if (e.deleted && nowMs - e.t > ttlMs) { this.map.delete(key); n++ }
    }
    return n
  }
}
