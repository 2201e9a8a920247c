import { DatabaseSync } from 'node:sqlite'
import type { SQLInputValue, StatementSync } from 'node:sqlite'
import { chmodSync, closeSync, openSync } from 'node:fs'
import { TASK_STATUSES } from './types.ts'
import type { TaskStatus } from './types.ts'
import { JournalError } from '../errors.ts'

/** The journal's file name in the node's data dir. */
export const JOURNAL_FILE = 'tasks.sqlite'

/** Bumped when the tables change; a file from a newer gridd is refused, not rewritten. */
const SCHEMA_VERSION = 1

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, max_retries INTEGER NOT NULL, timeout_ms INTEGER,
  priority INTEGER NOT NULL, closed INTEGER NOT NULL, created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT NOT NULL, session TEXT NOT NULL, module TEXT NOT NULL, path TEXT NOT NULL, input TEXT, resources TEXT,
  priority INTEGER NOT NULL, max_retries INTEGER NOT NULL, timeout_ms INTEGER, status TEXT NOT NULL,
  attempts INTEGER NOT NULL, agent TEXT, submitted_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER,
  error TEXT, result TEXT
);
CREATE INDEX IF NOT EXISTS tasks_by_session ON tasks (session);
CREATE INDEX IF NOT EXISTS tasks_by_end ON tasks (ended_at) WHERE ended_at IS NOT NULL;
`

export interface SessionRow {
  id: string
  name: string
  maxRetries: number
  timeoutMs?: number
  priority: number
  closed: boolean
  createdAt: number
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
  agent?: string
  submittedAt: number
  startedAt?: number
  endedAt?: number
  /** JSON of a WireError, or null. */
  error: string | null
  /** JSON of the value of a completed task; null for none (or undefined). */
  result: string | null
}

/** What changes in a task row after it is inserted. */
export type TaskChange = Pick<TaskRow, 'rowid' | 'status' | 'attempts' | 'agent' | 'startedAt' | 'endedAt' | 'error' | 'result'>

/** One transaction's worth of writes, applied in this order. */
export interface JournalBatch {
  /** Inserted, or (already there) their `closed` flag updated. */
  sessions: SessionRow[]
  /** Their rowids are given back by `commit`, in this order. */
  newTasks: Array<Omit<TaskRow, 'rowid'>>
  changedTasks: TaskChange[]
  /** Deleted with their tasks (closed and done). */
  droppedSessions: string[]
  /** Final tasks that ended before this time are deleted (`resultTtlMs` passed). */
  forgetEndedBefore?: number
}

export interface JournalContents {
  sessions: SessionRow[]
  tasks: TaskRow[]
  /** Rows that could not be read back (wrong types): left out. */
  unreadable: number
}

const TASK_COLUMNS = 'id, session, module, path, input, resources, priority, max_retries, timeout_ms, status, attempts, agent, submitted_at, started_at, ended_at, error, result'

/**
 * The task journal: one SQLite file (Node's built-in `node:sqlite`) in WAL mode with
 * `synchronous=NORMAL`: a committed batch survives the process being killed; a power
 * loss may take the last moments. The lock is exclusive: a second process on the same
 * data dir is refused (JournalError) rather than let two owners resume the same tasks.
 */
export class Journal {
  readonly path: string
  private readonly db: DatabaseSync
  private readonly upsertSession: StatementSync
  private readonly insertTask: StatementSync
  private readonly updateTask: StatementSync
  private readonly deleteSessionTasks: StatementSync
  private readonly deleteSession: StatementSync
  private readonly deleteEnded: StatementSync

  private constructor (path: string, db: DatabaseSync) {
    this.path = path
    this.db = db
    this.upsertSession = db.prepare('INSERT INTO sessions (id, name, max_retries, timeout_ms, priority, closed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET closed = excluded.closed')
    this.insertTask = db.prepare(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES (${TASK_COLUMNS.split(',').map(() => '?').join(', ')})`)
    this.updateTask = db.prepare('UPDATE tasks SET status = ?, attempts = ?, agent = ?, started_at = ?, ended_at = ?, error = ?, result = ? WHERE rowid = ?')
    this.deleteSessionTasks = db.prepare('DELETE FROM tasks WHERE session = ?')
    this.deleteSession = db.prepare('DELETE FROM sessions WHERE id = ?')
    this.deleteEnded = db.prepare('DELETE FROM tasks WHERE ended_at < ?')
  }

  /** Opens (or creates, mode 0600) the journal at `path`; throws JournalError if it is in use, damaged or newer. */
  static open (path: string): Journal {
    let db: DatabaseSync | undefined
    try {
      // created by us first: SQLite would make it (and its -wal file, which copies its mode) 0644
      closeSync(openSync(path, 'a', 0o600))
      chmodSync(path, 0o600)
      db = new DatabaseSync(path, { timeout: 0 })
      db.exec('PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL')
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version
      if (version > SCHEMA_VERSION) throw new JournalError(path, `written by a newer gridd (schema ${version}; this one reads ${SCHEMA_VERSION})`)
      // the exclusive lock is taken by the first write: a second process fails here
      db.exec(`BEGIN IMMEDIATE; ${SCHEMA} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT`)
      return new Journal(path, db)
    } catch (err) {
      db?.close()
      if (err instanceof JournalError) throw err
      const busy = (err as { errcode?: number }).errcode === 5
      throw new JournalError(path, busy ? 'in use by another process (a node with the same data dir?)' : 'cannot be opened', { cause: err })
    }
  }

  /** Everything journaled, oldest task first. */
  load (): JournalContents {
    let unreadable = 0
    const sessions: SessionRow[] = []
    for (const raw of this.db.prepare('SELECT * FROM sessions ORDER BY created_at').all()) {
      const row = readSession(raw)
      if (row == null) unreadable++
      else sessions.push(row)
    }
    const tasks: TaskRow[] = []
    for (const raw of this.db.prepare(`SELECT rowid, ${TASK_COLUMNS} FROM tasks ORDER BY submitted_at, rowid`).all()) {
      const row = readTask(raw)
      if (row == null) unreadable++
      else tasks.push(row)
    }
    return { sessions, tasks, unreadable }
  }

  /** Applies `batch` in one transaction (all of it or, on an error, none); the rowids of its new tasks. */
  commit (batch: JournalBatch): number[] {
    const rowids: number[] = []
    this.db.exec('BEGIN')
    try {
      for (const s of batch.sessions) this.upsertSession.run(s.id, s.name, s.maxRetries, s.timeoutMs ?? null, s.priority, s.closed ? 1 : 0, s.createdAt)
      for (const t of batch.newTasks) {
        const inserted = this.insertTask.run(t.id, t.session, t.module, t.path, t.input, t.resources, t.priority, t.maxRetries, t.timeoutMs ?? null, t.status,
          t.attempts, t.agent ?? null, t.submittedAt, t.startedAt ?? null, t.endedAt ?? null, t.error, t.result)
        rowids.push(Number(inserted.lastInsertRowid))
      }
      for (const c of batch.changedTasks) this.updateTask.run(c.status, c.attempts, c.agent ?? null, c.startedAt ?? null, c.endedAt ?? null, c.error, c.result, c.rowid)
      for (const id of batch.droppedSessions) {
        this.deleteSessionTasks.run(id)
        this.deleteSession.run(id)
      }
      if (batch.forgetEndedBefore != null) this.deleteEnded.run(batch.forgetEndedBefore)
      this.db.exec('COMMIT')
      return rowids
    } catch (err) {
      this.db.exec('ROLLBACK')
      throw err
    }
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }
}

type Raw = Record<string, SQLInputValue>

function readSession (raw: Raw): SessionRow | undefined {
  const { id, name, max_retries: maxRetries, timeout_ms: timeoutMs, priority, closed, created_at: createdAt } = raw
  if (typeof id !== 'string' || typeof name !== 'string' || !isNumber(maxRetries) || !isOptionalNumber(timeoutMs) || !isNumber(priority) || !isNumber(closed) || !isNumber(createdAt)) return undefined
  return { id, name, maxRetries, timeoutMs: timeoutMs ?? undefined, priority, closed: closed !== 0, createdAt }
}

function readTask (raw: Raw): TaskRow | undefined {
  const r = raw
  const status = r.status as TaskStatus
  if (!isNumber(r.rowid) || typeof r.id !== 'string' || typeof r.session !== 'string' || typeof r.module !== 'string' || typeof r.path !== 'string') return undefined
  if (!isOptionalText(r.input) || !isOptionalText(r.resources) || !isOptionalText(r.error) || !isOptionalText(r.result) || !isOptionalText(r.agent)) return undefined
  if (!isNumber(r.priority) || !isNumber(r.max_retries) || !isNumber(r.attempts) || !isNumber(r.submitted_at) || !TASK_STATUSES.includes(status)) return undefined
  if (!isOptionalNumber(r.timeout_ms) || !isOptionalNumber(r.started_at) || !isOptionalNumber(r.ended_at)) return undefined
  return {
    rowid: r.rowid,
    id: r.id,
    session: r.session,
    module: r.module,
    path: r.path,
    input: r.input,
    resources: r.resources,
    priority: r.priority,
    maxRetries: r.max_retries,
    timeoutMs: r.timeout_ms ?? undefined,
    status,
    attempts: r.attempts,
    agent: r.agent ?? undefined,
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

function isOptionalText (value: unknown): value is string | null {
  return value === null || typeof value === 'string'
}
