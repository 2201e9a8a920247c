/** Random hex characters in a task id before its number (see taskId). */
const NONCE_CHARS = 16

/**
 * A session's task id: `<owner>/t-`, 16 random hex characters (ids stay
 * unguessable), then the task's number in its session, in hex.
 */
export function taskId (prefix: string, nonce: string, seq: number): string {
  return prefix + nonce + seq.toString(16)
}

/** Slots per chunk of SeqSlots. */
const CHUNK = 1024

/**
 * Values by a dense number, each set once and deleted once (a session's tasks by
 * their number): arrays of CHUNK slots, a chunk let go once every slot in it has
 * been set and deleted. No hashing, and no table copied as it grows (a map of
 * millions of kept results was, over and over).
 */
class SeqSlots<T> {
  /** From chunk number `base` on (the ones before were let go). */
  private readonly chunks: Array<Array<T | undefined> | undefined> = []
  /** Per chunk: slots set so far, and slots holding a value now. */
  private readonly filled: number[] = []
  private readonly live: number[] = []
  private base = 0
  size = 0

  set (seq: number, value: T): void {
    const k = Math.floor(seq / CHUNK) - this.base
    let chunk = this.chunks[k]
    if (chunk == null) {
      while (this.chunks.length < k) { this.chunks.push(undefined); this.filled.push(0); this.live.push(0) }
      chunk = this.chunks[k] = new Array<T | undefined>(CHUNK).fill(undefined)
      this.filled[k] ??= 0
      this.live[k] ??= 0
    }
    if (chunk[seq % CHUNK] === undefined) {
      this.filled[k]!++
      this.live[k]!++
      this.size++
    }
    chunk[seq % CHUNK] = value
  }

  get (seq: number): T | undefined {
    const k = Math.floor(seq / CHUNK) - this.base
    return k < 0 ? undefined : this.chunks[k]?.[seq % CHUNK]
  }

  delete (seq: number): boolean {
    const k = Math.floor(seq / CHUNK) - this.base
    const chunk = k < 0 ? undefined : this.chunks[k]
    if (chunk?.[seq % CHUNK] === undefined) return false
    chunk[seq % CHUNK] = undefined
    this.size--
    if (--this.live[k]! === 0) {
      this.release(k)
      this.trimFront()
    }
    return true
  }

  /** Lets chunk `k` go if every slot in it was set and emptied. */
  private release (k: number): void {
    if (this.live[k] === 0 && this.filled[k] === CHUNK) this.chunks[k] = undefined
  }

  /** Drops the chunks let go at the front: the lists do not grow with every task ever numbered. */
  private trimFront (): void {
    while (this.chunks.length > 0 && this.chunks[0] === undefined && this.filled[0] === CHUNK) {
      this.chunks.shift()
      this.filled.shift()
      this.live.shift()
      this.base++
    }
  }

  /** Deletes the values `drop` says to; how many. */
  deleteWhere (drop: (value: T) => boolean): number {
    let dropped = 0
    for (let k = 0; k < this.chunks.length; k++) {
      const chunk = this.chunks[k]
      if (chunk == null || this.live[k] === 0) continue
      for (let i = 0; i < CHUNK; i++) {
        const value = chunk[i]
        if (value !== undefined && drop(value)) {
          chunk[i] = undefined
          this.live[k]!--
          dropped++
        }
      }
    }
    this.size -= dropped
    for (let k = 0; k < this.chunks.length; k++) this.release(k)
    this.trimFront()
    return dropped
  }

  /** Every value with its number, in number order. */
  * entries (): IterableIterator<[number, T]> {
    for (let k = 0; k < this.chunks.length; k++) {
      const chunk = this.chunks[k]
      if (chunk == null || this.live[k] === 0) continue
      for (let i = 0; i < CHUNK; i++) {
        const value = chunk[i]
        if (value !== undefined) yield [(this.base + k) * CHUNK + i, value]
      }
    }
  }
}

/** What the index keys by: a task's number in its session and its id's random part, when its session numbered it. */
export interface Numbered {
  readonly seq?: number
  readonly nonce?: string
}

/**
 * A session's tasks (or records of them) by id. One its session numbered is
 * kept by that number, a small integer: at tens of thousands of tasks a
 * second, maps keyed by the id strings hashed every id (a long string, made
 * flat for it) and, for kept results, held them alive for `resultTtlMs`.
 * Others (resumed from the journal, with ids of an earlier run) are kept by id.
 */
export class TaskIndex<T extends Numbered> {
  private readonly prefix: string
  private readonly bySeq = new SeqSlots<T>()
  private readonly byId = new Map<string, T>()

  /** `prefix`: the session's `<owner>/t-`. */
  constructor (prefix: string) {
    this.prefix = prefix
  }

  get size (): number {
    return this.bySeq.size + this.byId.size
  }

  set (id: string, value: T): void {
    if (value.seq != null) this.bySeq.set(value.seq, value)
    else this.byId.set(id, value)
  }

  get (id: string): T | undefined {
    return this.numbered(id) ?? this.byId.get(id)
  }

  delete (id: string, value: T): void {
    if (value.seq != null) this.bySeq.delete(value.seq)
    else this.byId.delete(id)
  }

  /** Everything with its id: those kept by id first (resumed, so older), then by number (in the order submitted). */
  * entries (): IterableIterator<[string, T]> {
    yield * this.byId
    for (const [seq, value] of this.bySeq.entries()) yield [taskId(this.prefix, value.nonce!, seq), value]
  }

  * values (): IterableIterator<T> {
    yield * this.byId.values()
    for (const [, value] of this.bySeq.entries()) yield value
  }

  /** Deletes those `drop` says to; how many. */
  deleteWhere (drop: (value: T) => boolean): number {
    let dropped = 0
    for (const [id, value] of this.byId) {
      if (drop(value)) {
        this.byId.delete(id)
        dropped++
      }
    }
    return dropped + this.bySeq.deleteWhere(drop)
  }

  /** What this session numbered, if `id` is exactly its id. */
  private numbered (id: string): T | undefined {
    const at = this.prefix.length + NONCE_CHARS
    if (id.length <= at || !id.startsWith(this.prefix)) return undefined
    const digits = id.slice(at)
    const seq = Number.parseInt(digits, 16)
    if (!Number.isSafeInteger(seq) || seq.toString(16) !== digits) return undefined
    const value = this.bySeq.get(seq)
    return value != null && id.slice(this.prefix.length, at) === value.nonce ? value : undefined
  }
}
