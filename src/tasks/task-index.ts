/** Random hex characters in a task id before its number (see taskId). */
const NONCE_CHARS = 16

/**
 * A session's task id: `<owner>/t-`, 16 random hex characters (ids stay
 * unguessable), then the task's number in its session, in hex.
 */
export function taskId (prefix: string, nonce: string, seq: number): string {
  return prefix + nonce + seq.toString(16)
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
  private readonly bySeq = new Map<number, T>()
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

  /** Everything with its id: those kept by id first (resumed, so older), then in the order they were set. */
  * entries (): IterableIterator<[string, T]> {
    yield * this.byId
    for (const [seq, value] of this.bySeq) yield [taskId(this.prefix, value.nonce!, seq), value]
  }

  * values (): IterableIterator<T> {
    yield * this.byId.values()
    yield * this.bySeq.values()
  }

  /** Deletes those `drop` says to; how many. */
  deleteWhere (drop: (value: T) => boolean): number {
    let dropped = 0
    for (const map of [this.byId, this.bySeq] as Array<Map<unknown, T>>) {
      for (const [key, value] of map) {
        if (drop(value)) {
          map.delete(key)
          dropped++
        }
      }
    }
    return dropped
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
