import type { SQLOutputValue } from 'node:sqlite'
import { TASK_STATUSES } from './types.ts'
import type { TaskStatus } from './types.ts'

/** A session as journaled. */
export interface SessionRow {
  id: string
  name: string
  maxRetries: number
  timeoutMs?: number
  priority: number
  closed: boolean
  createdAt: number
  /** The remote peer that opened it (tasks protocol): charged for it again when it is resumed (submit-budget.ts). */
  opener?: string
}

/** A task as journaled: JSON columns stay text here (decoded on resume). */
export interface TaskRow {
  /** Its row's number: changes name the row by it (a random task id would make every write an index search). */
  rowid: number
  id: string
  session: string
  /** As the task shows it (a path, or a registered name). */
  module: string
  /** The resolved module path it runs (a restart may have another cwd, or not have registered the name yet). */
  path: string
  /** JSON; null for undefined. */
  input: string | null
  /** JSON of TaskOptions.resources, or null. */
  resources: string | null
  priority: number
  maxRetries: number
  timeoutMs?: number
  status: TaskStatus
  attempts: number
  /** Losses counted against maxRetries, and excused (loss.ts); undefined in a row from before these columns. */
  countedLosses?: number
  excusedLosses?: number
  agent?: string
  /** Peer id of whoever submitted it (it alone, members and admins may read or cancel it). */
  submitter?: string
  submittedAt: number
  startedAt?: number
  endedAt?: number
  /** JSON of a WireError, or null. */
  error: string | null
  /** JSON of the value of a completed task; null for none (or undefined). */
  result: string | null
}

export interface JournalContents {
  sessions: SessionRow[]
  tasks: TaskRow[]
  /** Rows that could not be read back (wrong types, a name or session that is not there): left out. */
  unreadable: number
}

type Raw = Record<string, SQLOutputValue>

export function readSession (raw: Raw): SessionRow | undefined {
  const { id, name, max_retries: maxRetries, timeout_ms: timeoutMs, priority, closed, created_at: createdAt, opener = null } = raw
  if (typeof id !== 'string' || typeof name !== 'string' || !isNumber(maxRetries) || !isOptionalNumber(timeoutMs) || !isNumber(priority) || !isNumber(closed) || !isNumber(createdAt) || !isOptionalText(opener)) return undefined
  return { id, name, maxRetries, timeoutMs: timeoutMs ?? undefined, priority, closed: closed !== 0, createdAt, opener: opener ?? undefined }
}

/**
 * A task row read back: its owner, module, path and agent are numbers in the journal's
 * table of names, its session the session row's number (`names`, `sessions` map them back).
 */
export function readTask (raw: Raw, names: Map<number, string>, sessions: Map<number, string>): TaskRow | undefined {
  const r = raw
  // null in a row from before these columns (or one an older gridd inserted)
  const countedLosses = r.counted_losses ?? null
  const excusedLosses = r.excused_losses ?? null
  const status = r.status as TaskStatus
  const session = isNumber(r.session) ? sessions.get(r.session) : undefined
  const module = isNumber(r.module) ? names.get(r.module) : undefined
  const path = isNumber(r.path) ? names.get(r.path) : undefined
  const owner = isNumber(r.owner) ? names.get(r.owner) : undefined
  const agent = isNumber(r.agent) ? names.get(r.agent) : undefined
  const submitter = isNumber(r.submitter) ? names.get(r.submitter) : undefined
  if (!isNumber(r.rowid) || typeof r.id !== 'string' || session == null || module == null || path == null) return undefined
  if ((r.owner !== null && owner == null) || (r.agent !== null && agent == null) || (r.submitter != null && submitter == null)) return undefined
  if (!isOptionalText(r.input) || !isOptionalText(r.resources) || !isOptionalText(r.error) || !isOptionalText(r.result)) return undefined
  if (!isNumber(r.priority) || !isNumber(r.max_retries) || !isNumber(r.attempts) || !isNumber(r.submitted_at) || !TASK_STATUSES.includes(status)) return undefined
  if (!isOptionalNumber(r.timeout_ms) || !isOptionalNumber(r.started_at) || !isOptionalNumber(r.ended_at)) return undefined
  if (!isOptionalCount(countedLosses) || !isOptionalCount(excusedLosses)) return undefined
  return {
    rowid: r.rowid,
    id: owner == null ? r.id : `${owner}/${r.id}`,
    session,
    module,
    path,
    input: r.input,
    resources: r.resources,
    priority: r.priority,
    maxRetries: r.max_retries,
    timeoutMs: r.timeout_ms ?? undefined,
    status,
    attempts: r.attempts,
    countedLosses: countedLosses ?? undefined,
    excusedLosses: excusedLosses ?? undefined,
    agent,
    submitter,
    submittedAt: r.submitted_at,
    startedAt: r.started_at ?? undefined,
    endedAt: r.ended_at ?? undefined,
    error: r.error,
    result: r.result
  }
}

function isNumber (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

function isOptionalNumber (value: unknown): value is number | null {
  return value === null || isNumber(value)
}

function isOptionalCount (value: unknown): value is number | null {
  return value === null || (Number.isSafeInteger(value) && (value as number) >= 0)
}

function isOptionalText (value: unknown): value is string | null {
  return value === null || typeof value === 'string'
}
