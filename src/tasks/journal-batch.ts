import { TASK_STATUSES } from './types.ts'
import type { TaskStatus } from './types.ts'
import type { SessionRow } from './journal-rows.ts'

/**
 * One transaction's worth of journal writes, as the owner's main thread posts
 * it to the journal's writer thread. A task is a stretch of numbers (in a
 * Float64Array, transferred rather than copied) and a stretch of strings, so a
 * batch of a thousand tasks is a few arrays to clone, not a thousand objects.
 * A number that is not there is NaN; a status is its index in TASK_STATUSES.
 * Applied in this order: sessions, inserts, updates, dropped sessions, forgetting.
 */
export interface PackedBatch {
  /** Inserted, or (already there) their `closed` flag updated. A task's session is in this batch or an earlier one. */
  sessions: SessionRow[]
  inserts: number
  /** INSERT_NUMBERS per inserted task: rowid, priority, maxRetries, timeoutMs, status, attempts, submittedAt, startedAt, endedAt, countedLosses, excusedLosses. */
  insertNumbers: Float64Array
  /**
   * INSERT_TEXTS per inserted task: id (its part after the owner's), session, module, path, input, resources,
   * agent, error, result, submitter, owner (the id's part before its last '/'; null: none) (SAME: as the task before).
   */
  insertTexts: Text[]
  updates: number
  /** UPDATE_NUMBERS per changed task: rowid, status, attempts, startedAt, endedAt, countedLosses, excusedLosses. */
  updateNumbers: Float64Array
  /** UPDATE_TEXTS per changed task: agent, error, result (SAME: as the task before). */
  updateTexts: Text[]
  /** Deleted with their tasks (closed and done). */
  droppedSessions: string[]
  /** Final tasks that ended before this time are deleted (`resultTtlMs` passed). */
  forgetEndedBefore?: number
}

/**
 * In place of a session, module, path, agent or submitter that is the one of the
 * task before: most tasks of a batch share them, and every character is copied
 * twice on its way to the writer (a byte here instead of ~50).
 */
export const SAME = true
export type Text = string | null | typeof SAME

export const INSERT_NUMBERS = 11
export const INSERT_TEXTS = 11
export const UPDATE_NUMBERS = 7
export const UPDATE_TEXTS = 3

/** What a batch takes of a task as it is now (a Task has all of it; so has a TaskRow). */
export interface TaskState {
  status: TaskStatus
  attempts: number
  agent?: string
  startedAt?: number
  endedAt?: number
  /** Losses counted against maxRetries, and excused (see loss.ts); a row from before them has none. */
  countedLosses?: number
  excusedLosses?: number
}

/** What an insert takes of a task besides its state. */
export interface TaskFields extends TaskState {
  id: string
  session: string
  module: string
  priority: number
  maxRetries: number
  timeoutMs?: number
  submittedAt: number
  submitter?: string
}

const STATUS_INDEX = new Map<TaskStatus, number>(TASK_STATUSES.map((status, i) => [status, i]))

/** Builds a PackedBatch of at most `inserts` new and `updates` changed tasks. */
export class BatchPacker {
  private readonly batch: PackedBatch
  /** The last inserted task's session, module, path, agent, submitter and owner; the last updated task's agent. */
  private last: Text[] = [null, null, null, null, null, null]
  private lastAgent: Text = null

  constructor (inserts: number, updates: number) {
    this.batch = {
      sessions: [],
      inserts: 0,
      insertNumbers: new Float64Array(inserts * INSERT_NUMBERS),
      insertTexts: [],
      updates: 0,
      updateNumbers: new Float64Array(updates * UPDATE_NUMBERS),
      updateTexts: [],
      droppedSessions: []
    }
  }

  /** A new task, in row `rowid`; `error` and `result` are JSON (null: none). */
  insert (rowid: number, task: TaskFields, path: string, input: string | null, resources: string | null, error: string | null, result: string | null): void {
    const b = this.batch
    const n = b.insertNumbers
    let i = b.inserts * INSERT_NUMBERS
    n[i++] = rowid
    n[i++] = task.priority
    n[i++] = task.maxRetries
    n[i++] = task.timeoutMs ?? NaN
    n[i++] = STATUS_INDEX.get(task.status)!
    n[i++] = task.attempts
    n[i++] = task.submittedAt
    n[i++] = task.startedAt ?? NaN
    n[i++] = task.endedAt ?? NaN
    n[i++] = task.countedLosses ?? NaN
    n[i] = task.excusedLosses ?? NaN
    // the owner's part of the id (~55 of its ~75 characters) is every task's: sent once a batch, and read once a batch
    const id = task.id
    const slash = id.lastIndexOf('/')
    const owner = slash < 0 ? null : id.slice(0, slash)
    // pushed, never preallocated: the structured clone copies a packed array in one pass, a holey one key by key
    b.insertTexts.push(slash < 0 ? id : id.slice(slash + 1), this.same(0, task.session), this.same(1, task.module), this.same(2, path), input, resources,
      this.same(3, task.agent ?? null), error, result, this.same(4, task.submitter ?? null), this.same(5, owner))
    b.inserts++
  }

  /** A change to the task in row `rowid`. */
  update (rowid: number, task: TaskState, error: string | null, result: string | null): void {
    const b = this.batch
    const n = b.updateNumbers
    let i = b.updates * UPDATE_NUMBERS
    n[i++] = rowid
    n[i++] = STATUS_INDEX.get(task.status)!
    n[i++] = task.attempts
    n[i++] = task.startedAt ?? NaN
    n[i++] = task.endedAt ?? NaN
    n[i++] = task.countedLosses ?? NaN
    n[i] = task.excusedLosses ?? NaN
    const agent = task.agent ?? null
    b.updateTexts.push(agent === this.lastAgent ? SAME : (this.lastAgent = agent), error, result)
    b.updates++
  }

  /** SAME if `text` is the last insert's field `at`, else `text` (remembered). */
  private same (at: number, text: string | null): Text {
    if (text === this.last[at]) return SAME
    this.last[at] = text
    return text
  }

  /** The batch, with `rest` (sessions, drops, forgetting) added. */
  finish (rest: Partial<Pick<PackedBatch, 'sessions' | 'droppedSessions' | 'forgetEndedBefore'>> = {}): PackedBatch {
    return { ...this.batch, ...rest }
  }
}

/** A batch's buffers, to transfer rather than copy. */
export function transferList (batch: PackedBatch): ArrayBuffer[] {
  return [batch.insertNumbers.buffer as ArrayBuffer, batch.updateNumbers.buffer as ArrayBuffer]
}

/** Whether `batch` writes anything. */
export function isEmpty (batch: PackedBatch): boolean {
  return batch.inserts + batch.updates + batch.sessions.length + batch.droppedSessions.length === 0 && batch.forgetEndedBefore == null
}

/** Reads a batch's texts: SAME resolved to the value of the task before. */
export class TextReader {
  private readonly last: Array<string | null>

  constructor (fields: number) {
    this.last = new Array<string | null>(fields).fill(null)
  }

  /** Field `at` of a row whose texts start at `texts[from]`. */
  read (texts: Text[], from: number, at: number): string | null {
    const text = texts[from + at]!
    if (text === SAME) return this.last[at]!
    this.last[at] = text
    return text
  }
}

/** A status back from its index (the journal stores its name). */
export function statusAt (index: number): TaskStatus {
  const status = TASK_STATUSES[index]
  if (status == null) throw new RangeError(`no task status ${index}`)
  return status
}

/** A packed number as a column value: NaN is NULL. */
export function column (value: number): number | null {
  return Number.isNaN(value) ? null : value
}
