import { FinishedTask } from './finished-task.ts'
import type { Task } from './task.ts'

/** Random hex characters in a task id before its number (see taskId). */
const NONCE_CHARS = 16

/**
 * A session's task id: `<owner>/t-`, 16 random hex characters (ids stay
 * unguessable), then the task's number in its session, in hex.
 */
export function taskId (prefix: string, nonce: string, seq: number): string {
  return prefix + nonce + seq.toString(16)
}

/**
 * A session's final tasks whose results are still served, by id, in the order
 * they ended. A task numbered by this session is found by its number (a small
 * integer key): at tens of thousands of tasks a second, a map keyed by the id
 * strings kept every id (a long string, and its flattened copy) alive for
 * `resultTtlMs`, and the collector's work grew with them. Others (resumed from
 * the journal, with ids of an earlier run) are kept by their id.
 */
export class FinishedRecords {
  private readonly prefix: string
  private readonly bySeq = new Map<number, FinishedTask>()
  private readonly byId = new Map<string, FinishedTask>()

  /** `prefix`: the session's `<owner>/t-`. */
  constructor (prefix: string) {
    this.prefix = prefix
  }

  add (task: Task): void {
    const record = new FinishedTask(task)
    if (record.seq != null) this.bySeq.set(record.seq, record)
    else this.byId.set(task.id, record)
  }

  get (id: string): FinishedTask | undefined {
    return this.numbered(id) ?? this.byId.get(id)
  }

  /** Every record with its id: those kept by id first (resumed, so older), then in the order they ended. */
  * entries (): IterableIterator<[string, FinishedTask]> {
    yield * this.byId
    for (const [seq, record] of this.bySeq) yield [taskId(this.prefix, record.nonce!, seq), record]
  }

  /** Forgets the records that ended before `before`; how many. */
  forget (before: number): number {
    let forgotten = 0
    for (const map of [this.byId, this.bySeq] as Array<Map<unknown, FinishedTask>>) {
      for (const [key, record] of map) {
        if (record.endedAt < before) {
          map.delete(key)
          forgotten++
        }
      }
    }
    return forgotten
  }

  /** The record of a task this session numbered, if `id` is exactly its id. */
  private numbered (id: string): FinishedTask | undefined {
    const at = this.prefix.length + NONCE_CHARS
    if (id.length <= at || !id.startsWith(this.prefix)) return undefined
    const digits = id.slice(at)
    const seq = Number.parseInt(digits, 16)
    if (!Number.isSafeInteger(seq) || seq.toString(16) !== digits) return undefined
    const record = this.bySeq.get(seq)
    return record != null && id.slice(this.prefix.length, at) === record.nonce ? record : undefined
  }
}
