import { createHash } from 'node:crypto'
import { compareStamps } from './hlc.ts'
import type { Stamp } from './hlc.ts'

/** One key's latest write: a value, or a tombstone that remembers the delete. */
export interface Entry extends Stamp {
  key: string
  value?: unknown
  deleted: boolean
  /** The origin's signature (see signature.ts); what lets any member relay the write. */
  sig?: string
  /**
   * Only in a snapshot, of a tombstone: for how long (ms) its sender has held it. A replica that takes
   * the tombstone up from it ages it from there, so one that dropped it and gets it back from one that
   * learned of it later drops it again with that one, instead of holding it a whole TTL anew (and handing
   * it back in turn, for ever). A duration, so no two clocks are compared; not signed, never stored.
   */
  heldMs?: number
}

/**
 * What the delta of a snapshot exchange keeps of another replica's write: its stamp and a hash of
 * the write, never its value (a snapshot may be the size of the channel, and a peer's refused writes
 * would stay held until the exchange ends).
 */
export interface WriteMark extends Stamp {
  hash: bigint
}

export function markOf (e: Entry): WriteMark {
  return { t: e.t, c: e.c, origin: e.origin, hash: entryHash(e) }
}

/** What a write says, as text: the tie-break between two writes with one stamp. */
function contentOf (e: Pick<Entry, 'deleted' | 'value'>): string {
  return e.deleted ? '' : `=${JSON.stringify(e.value) ?? ''}`
}

/**
 * Total order of writes: by stamp, then (one stamp, two contents: a writer that equivocates, or a
 * clock that went back) by content, so every replica keeps the same one whatever the order they came
 * in. Without it, replicas kept whichever came first and never converged (found by npm run fuzz).
 */
export function compareEntries (a: Entry, b: Entry): number {
  const byStamp = compareStamps(a, b)
  if (byStamp !== 0) return byStamp
  const ca = contentOf(a)
  const cb = contentOf(b)
  return ca < cb ? -1 : ca > cb ? 1 : 0
}

/**
 * A last-writer-wins map (pure, no I/O): a write replaces the key's entry only
 * if its stamp is later, so every replica that has seen the same writes holds
 * the same map whatever the order they arrived in. Deletes stay as tombstones
 * until `expire` drops those held longer than the TTL: aged by when this replica
 * took each one up (by its own monotonic clock, `learnedAt`), never by the stamp, which is
 * the writer's clock (one 10 min behind had its deletes dropped at once on every
 * other member, and a member that missed one brought the old value back).
 *
 * It keeps an order-independent digest of its writes (XOR of one hash per
 * entry, updated as entries come and go), so two replicas can tell they are
 * equal by swapping a few bytes instead of their contents.
 */
export class LwwStore {
  private readonly map = new Map<string, Entry>()
  /** For each tombstone held, when (ms, this replica's monotonic clock) it was taken up: what its age is judged by. Not in the digest. */
  private readonly learnedAt = new Map<string, number>()
  private xor = 0n
  private byteCount = 0

  /**
   * Applies `entry` if it is newer than what the key holds; returns the entry it replaced (or null when stale).
   * `learnedAtMs`: when this replica took the write up, by its own monotonic clock (a tombstone's age counts from it).
   */
  apply (entry: Entry, learnedAtMs: number): { previous?: Entry } | null {
    const current = this.map.get(entry.key)
    if (current != null && compareEntries(entry, current) <= 0) return null
    if (current != null) { this.xor ^= entryHash(current); this.byteCount -= entryBytes(current) }
    this.xor ^= entryHash(entry)
    this.byteCount += entryBytes(entry)
    this.map.set(entry.key, entry)
    if (entry.deleted) this.learnedAt.set(entry.key, learnedAtMs)
    else this.learnedAt.delete(entry.key)
    return { previous: current }
  }

  /** For how long (ms, `nowMs` on the clock `apply` was given) the tombstone of `key` has been held here; undefined when the key holds none. */
  heldMs (key: string, nowMs: number): number | undefined {
    const at = this.learnedAt.get(key)
    return at == null ? undefined : Math.max(0, Math.round(nowMs - at))
  }

  /** True when `entry` would replace what the key holds (or the key is new). */
  isNewer (entry: Entry): boolean {
    const current = this.map.get(entry.key)
    return current == null || compareEntries(entry, current) > 0
  }

  /** Keys held, tombstones included (each costs memory until it expires). */
  get keyCount (): number {
    return this.map.size
  }

  /** Approximate memory held: keys and serialized values. */
  get bytes (): number {
    return this.byteCount
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

  /**
   * Our entries that `theirs` (another replica's snapshot, merged here first) lacks or holds an older
   * write of. One stamp, another write: ours won the content tie-break (theirs would have replaced it
   * in the merge) or the merge refused theirs; either way sending ours is right or harmless.
   */
  newerThan (theirs: Map<string, WriteMark>): Entry[] {
    return this.all().filter(e => {
      const o = theirs.get(e.key)
      if (o == null) return true
      const byStamp = compareStamps(e, o)
      return byStamp > 0 || (byStamp === 0 && entryHash(e) !== o.hash)
    })
  }

  /** Equal on two replicas exactly when they hold the same writes (tombstones included). */
  digest (): string {
    return `${this.map.size}:${this.xor.toString(16)}`
  }

  /** Drops tombstones held here longer than `ttlMs` by `nowMs` (on the clock `apply` was given); returns how many. */
  expire (nowMs: number, ttlMs: number): number {
    let n = 0
    for (const [key, at] of this.learnedAt) {
      const e = this.map.get(key)
      if (e != null && nowMs - at > ttlMs) {
        this.learnedAt.delete(key)
        this.map.delete(key)
        this.xor ^= entryHash(e)
        this.byteCount -= entryBytes(e)
        n++
      }
    }
    return n
  }
}

/** A write is its key, stamp and content (a writer may issue one stamp twice: then the digests must differ). */
function entryHash (e: Entry): bigint {
  return createHash('sha256').update(`${e.key}\0${e.t}\0${e.c}\0${e.origin}\0${contentOf(e)}`).digest().readBigUInt64BE(0)
}

/** Per-entry bookkeeping beyond key and value (stamp, origin, signature, map slot). */
const ENTRY_OVERHEAD_BYTES = 256

/** What an entry costs, roughly: what the channel byte cap counts (a value is counted wherever it is, a tombstone's too). */
export function entryBytes (e: Entry): number {
  return ENTRY_OVERHEAD_BYTES + e.key.length + (e.value === undefined ? 0 : (JSON.stringify(e.value)?.length ?? 0))
}
