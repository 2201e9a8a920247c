import { DatabaseSync } from 'node:sqlite'
import type { StatementSync } from 'node:sqlite'
import { chmodSync, closeSync, openSync } from 'node:fs'
import { readSession, readTask } from './journal-rows.ts'
import type { JournalContents, SessionRow, TaskRow } from './journal-rows.ts'
import { column, INSERT_NUMBERS, INSERT_TEXTS, statusAt, TextReader, UPDATE_NUMBERS, UPDATE_TEXTS } from './journal-batch.ts'
import type { PackedBatch } from './journal-batch.ts'
import { JournalError } from '../errors.ts'

export type { JournalContents, SessionRow, TaskRow } from './journal-rows.ts'
export type { PackedBatch } from './journal-batch.ts'

/** Why a journal cannot be used: JournalError's detail, and the error beneath (both cross a thread). */
export interface Refusal {
  detail: string
  cause?: unknown
  /** What to do instead of JournalError's default (move the file aside). */
  advice?: string
}

/** A journal another process holds: moving the file aside would take it from under that node. */
export const BUSY_ADVICE = 'each node needs a data dir of its own: stop the other node, or give this one another --data-dir (GridNode.start({ dataDir }))'

/** The journal's file name in the node's data dir. */
export const JOURNAL_FILE = 'tasks.sqlite'

/**
 * The write-ahead log is cut back to this after a checkpoint. It is checkpointed every ~4 MB (SQLite's
 * default) and then written from its start again, but never shrunk: one burst (a thousand large results
 * in one batch) left it at its peak size, gigabytes, for as long as the node ran.
 */
export const WAL_LIMIT_BYTES = 16 * 1024 * 1024

/** Bumped when the tables change; a file from a newer gridd is refused, not rewritten. */
const SCHEMA_VERSION = 1

// Task rows are kept narrow (a write is cheaper): repeated strings (the owner part of ids,
// modules, paths, agents) are numbers in `names`, a task's session is its session row's number.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, max_retries INTEGER NOT NULL, timeout_ms INTEGER,
  priority INTEGER NOT NULL, closed INTEGER NOT NULL, created_at INTEGER NOT NULL, opener TEXT
);
CREATE TABLE IF NOT EXISTS tasks (
  owner INTEGER, id TEXT NOT NULL, session INTEGER NOT NULL, module INTEGER NOT NULL, path INTEGER NOT NULL,
  input TEXT, resources TEXT, priority INTEGER NOT NULL, max_retries INTEGER NOT NULL, timeout_ms INTEGER,
  status TEXT NOT NULL, attempts INTEGER NOT NULL, agent INTEGER, submitted_at INTEGER NOT NULL,
  started_at INTEGER, ended_at INTEGER, error TEXT, result TEXT, submitter INTEGER,
  counted_losses INTEGER, excused_losses INTEGER
);
CREATE INDEX IF NOT EXISTS tasks_by_session ON tasks (session);
CREATE INDEX IF NOT EXISTS tasks_by_end ON tasks (ended_at) WHERE ended_at IS NOT NULL;
`

const TASK_COLUMNS = 'rowid, owner, id, session, module, path, input, resources, priority, max_retries, timeout_ms, status, attempts, agent, submitted_at, started_at, ended_at, error, result, submitter, counted_losses, excused_losses'
const TASK_ROW = `(${TASK_COLUMNS.split(',').map(() => '?').join(', ')})`
/** Task rows one INSERT statement writes at once: a statement's own cost (a step, a reset, its result object) is paid per this many rows. */
const ROWS_PER_INSERT = 32
const TASK_FIELDS = TASK_COLUMNS.split(',').length
/** What an update sets, after the row's number: the columns a task's progress changes. */
const UPDATE_COLUMNS = ['status', 'attempts', 'agent', 'started_at', 'ended_at', 'error', 'result', 'counted_losses', 'excused_losses']
const UPDATE_FIELDS = 1 + UPDATE_COLUMNS.length
/**
 * Task rows one UPDATE statement changes at once (a join on a list of values): one UPDATE a row
 * cost a third more per row (~3 µs against ~2, measured alone), its step, reset and result object.
 * A batch names a row at most once, so the join has one value per row.
 */
const ROWS_PER_UPDATE = 32
/**
 * Names the table holds before it is searched for ones no task row uses (a task's shipped module, agent or
 * submitter, long forgotten); after a search, twice what is left. The search reads every task row, so it runs
 * only once the table has doubled: a member shipping a new module version daily would otherwise leave two
 * names a version, here and in the file, for good.
 */
const MIN_NAMES_BEFORE_PRUNE = 1024
const UNUSED_NAMES = 'DELETE FROM names WHERE id NOT IN (SELECT module FROM tasks UNION SELECT path FROM tasks' +
  ' UNION SELECT owner FROM tasks WHERE owner IS NOT NULL UNION SELECT agent FROM tasks WHERE agent IS NOT NULL' +
  ' UNION SELECT submitter FROM tasks WHERE submitter IS NOT NULL) RETURNING id, name'
const UPDATE_MANY = `WITH v (r, ${UPDATE_COLUMNS.map((_, i) => `c${i}`).join(', ')}) AS (VALUES ${new Array<string>(ROWS_PER_UPDATE).fill(`(${new Array<string>(UPDATE_FIELDS).fill('?').join(', ')})`).join(', ')}) ` +
  `UPDATE tasks SET ${UPDATE_COLUMNS.map((c, i) => `${c} = v.c${i}`).join(', ')} FROM v WHERE tasks.rowid = v.r`

/**
 * The task journal: one SQLite file (Node's built-in `node:sqlite`) in WAL mode with
 * `synchronous=NORMAL`: a committed batch survives the process being killed; a power
 * loss may take the last moments. The lock is exclusive: a second process on the same
 * data dir is refused (JournalError) rather than let two owners resume the same tasks.
 */
export class Journal {
  readonly path: string
  private readonly db: DatabaseSync
  private readonly statements: Record<'insertName' | 'insertSession' | 'closeSession' | 'insertTask' | 'insertTasks' | 'updateTask' | 'updateTasks' | 'deleteSessionTasks' | 'deleteSession' | 'deleteEnded' | 'deleteUnusedNames', StatementSync>
  /** The table of names, as a map (text -> number). */
  private readonly names = new Map<string, number>()
  /** At this many names, the ones no task uses are deleted (see MIN_NAMES_BEFORE_PRUNE). */
  private pruneNamesAt = MIN_NAMES_BEFORE_PRUNE
  /** Session id -> its row's number. */
  private readonly sessionRows = new Map<string, number>()
  /** Undoes this transaction's additions to the two maps if it rolls back. */
  private undo: Array<() => void> = []

  private constructor (path: string, db: DatabaseSync) {
    this.path = path
    this.db = db
    this.statements = {
      insertName: db.prepare('INSERT INTO names (name) VALUES (?)'),
      insertSession: db.prepare('INSERT INTO sessions (id, name, max_retries, timeout_ms, priority, closed, created_at, opener) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      closeSession: db.prepare('UPDATE sessions SET closed = ? WHERE rowid = ?'),
      insertTask: db.prepare(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES ${TASK_ROW}`),
      insertTasks: db.prepare(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES ${new Array<string>(ROWS_PER_INSERT).fill(TASK_ROW).join(', ')}`),
      updateTask: db.prepare(`UPDATE tasks SET ${UPDATE_COLUMNS.map(c => `${c} = ?`).join(', ')} WHERE rowid = ?`),
      updateTasks: db.prepare(UPDATE_MANY),
      deleteSessionTasks: db.prepare('DELETE FROM tasks WHERE session = ?'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE rowid = ?'),
      deleteEnded: db.prepare('DELETE FROM tasks WHERE ended_at < ?'),
      deleteUnusedNames: db.prepare(UNUSED_NAMES)
    }
    for (const row of db.prepare('SELECT id, name FROM names').all()) this.names.set(String(row.name), Number(row.id))
    for (const row of db.prepare('SELECT rowid, id FROM sessions').all()) this.sessionRows.set(String(row.id), Number(row.rowid))
  }

  /** Opens (or creates, mode 0600) the journal at `path`; throws JournalError if it is in use, damaged or newer. */
  static open (path: string): Journal {
    const opened = Journal.tryOpen(path)
    if (opened instanceof Journal) return opened
    throw new JournalError(path, opened.detail, { cause: opened.cause, advice: opened.advice })
  }

  /** The journal at `path`, or why it cannot be used (the writer thread posts that to the node's thread). */
  static tryOpen (path: string): Journal | Refusal {
    let db: DatabaseSync | undefined
    try {
      // created by us first: SQLite would make it (and its -wal file, which copies its mode) 0644
      closeSync(openSync(path, 'a', 0o600))
      chmodSync(path, 0o600)
      db = new DatabaseSync(path, { timeout: 0 })
      db.exec(`PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = ${WAL_LIMIT_BYTES}`)
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version
      if (version > SCHEMA_VERSION) {
        db.close()
        return { detail: `written by a newer gridd (schema ${version}; this one reads ${SCHEMA_VERSION})` }
      }
      // the exclusive lock is taken by the first write: a second process fails here
      db.exec(`BEGIN IMMEDIATE; ${SCHEMA} ${addedColumns(db)} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT`)
      return new Journal(path, db)
    } catch (err) {
      db?.close()
      const busy = (err as { errcode?: number }).errcode === 5
      return busy
        ? { detail: 'in use by another process (another node on the same data dir)', cause: err, advice: BUSY_ADVICE }
        : { detail: 'cannot be opened', cause: err }
    }
  }

  /** The row number for the next task: the recorder numbers rows itself (it is the file's one writer), so an update never waits for its insert's answer. */
  nextRowid (): number {
    const row = this.db.prepare('SELECT max(rowid) AS last FROM tasks').get() as { last: number | null }
    return (row.last ?? 0) + 1
  }

  /** Everything journaled, oldest task first. */
  load (): JournalContents {
    let unreadable = 0
    const names = new Map([...this.names].map(([name, id]) => [id, name]))
    const sessionIds = new Map<number, string>()
    const sessions: SessionRow[] = []
    for (const raw of this.db.prepare('SELECT rowid, * FROM sessions ORDER BY created_at').all()) {
      const row = readSession(raw)
      if (row == null) {
        unreadable++
        continue
      }
      sessions.push(row)
      sessionIds.set(Number(raw.rowid), row.id)
    }
    const tasks: TaskRow[] = []
    // row by row, not all(): a large journal takes seconds to read, and a thread ended meanwhile (the node's
    // start aborted) ends between two rows, not after one native call that reads them all
    for (const raw of this.db.prepare(`SELECT ${TASK_COLUMNS} FROM tasks ORDER BY submitted_at, rowid`).iterate()) {
      const row = readTask(raw, names, sessionIds)
      if (row == null) unreadable++
      else tasks.push(row)
    }
    return { sessions, tasks, unreadable }
  }

  /** Applies `batch` in one transaction: all of it or, on an error, none. */
  commit (batch: PackedBatch): void {
    const s = this.statements
    this.undo = []
    this.db.exec('BEGIN')
    try {
      for (const session of batch.sessions) this.writeSession(session)
      const n = batch.insertNumbers
      const t = batch.insertTexts
      const shared = new TextReader(INSERT_TEXTS)
      const rows: Array<string | number | null> = []
      for (let row = 0, i = 0, j = 0; row < batch.inserts; row++, i += INSERT_NUMBERS, j += INSERT_TEXTS) {
        rows.push(n[i]!, this.optionalName(shared.read(t, j, 10)), t[j] as string,
          this.sessionRow(shared.read(t, j, 1)!), this.name(shared.read(t, j, 2)!), this.name(shared.read(t, j, 3)!),
          t[j + 4] as string | null, t[j + 5] as string | null, n[i + 1]!, n[i + 2]!, column(n[i + 3]!), statusAt(n[i + 4]!), n[i + 5]!,
          this.optionalName(shared.read(t, j, 6)), n[i + 6]!, column(n[i + 7]!), column(n[i + 8]!),
          t[j + 7] as string | null, t[j + 8] as string | null, this.optionalName(shared.read(t, j, 9)), column(n[i + 9]!), column(n[i + 10]!))
        if (rows.length === ROWS_PER_INSERT * TASK_FIELDS) {
          s.insertTasks.run(...rows)
          rows.length = 0
        }
      }
      for (let at = 0; at < rows.length; at += TASK_FIELDS) s.insertTask.run(...rows.slice(at, at + TASK_FIELDS))
      const un = batch.updateNumbers
      const ut = batch.updateTexts
      const agents = new TextReader(UPDATE_TEXTS)
      const changes: Array<string | number | null> = []
      for (let row = 0, i = 0, j = 0; row < batch.updates; row++, i += UPDATE_NUMBERS, j += UPDATE_TEXTS) {
        changes.push(un[i]!, statusAt(un[i + 1]!), un[i + 2]!, this.optionalName(agents.read(ut, j, 0)), column(un[i + 3]!), column(un[i + 4]!), ut[j + 1] as string | null, ut[j + 2] as string | null, column(un[i + 5]!), column(un[i + 6]!))
        if (changes.length === ROWS_PER_UPDATE * UPDATE_FIELDS) {
          s.updateTasks.run(...changes)
          changes.length = 0
        }
      }
      // the rest one by one (the row's number last there)
      for (let at = 0; at < changes.length; at += UPDATE_FIELDS) s.updateTask.run(...changes.slice(at + 1, at + UPDATE_FIELDS), changes[at]!)
      for (const id of batch.droppedSessions) this.dropSession(id)
      if (batch.forgetEndedBefore != null) s.deleteEnded.run(batch.forgetEndedBefore)
      if (this.names.size >= this.pruneNamesAt) this.pruneNames()
      this.db.exec('COMMIT')
    } catch (err) {
      this.db.exec('ROLLBACK')
      for (const undo of this.undo.reverse()) undo()
      throw err
    }
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }

  private writeSession (session: SessionRow): void {
    const known = this.sessionRows.get(session.id)
    if (known != null) {
      this.statements.closeSession.run(session.closed ? 1 : 0, known)
      return
    }
    const row = Number(this.statements.insertSession.run(session.id, session.name, session.maxRetries, session.timeoutMs ?? null, session.priority, session.closed ? 1 : 0, session.createdAt, session.opener ?? null).lastInsertRowid)
    this.sessionRows.set(session.id, row)
    this.undo.push(() => { this.sessionRows.delete(session.id) })
  }

  private dropSession (id: string): void {
    const row = this.sessionRows.get(id)
    if (row == null) return
    this.statements.deleteSessionTasks.run(row)
    this.statements.deleteSession.run(row)
    this.sessionRows.delete(id)
    this.undo.push(() => { this.sessionRows.set(id, row) })
  }

  private sessionRow (id: string): number {
    const row = this.sessionRows.get(id)
    // the recorder writes a task's session first: a task without one is a bug there, not a state to journal
    if (row == null) throw new JournalError(this.path, `a task of session ${id}, which is not journaled`)
    return row
  }

  /** Deletes the names no task row uses (a later task that names one again adds it anew). */
  private pruneNames (): void {
    for (const row of this.statements.deleteUnusedNames.all()) {
      const name = String(row.name)
      const id = Number(row.id)
      this.names.delete(name)
      this.undo.push(() => { this.names.set(name, id) })
    }
    this.pruneNamesAt = Math.max(MIN_NAMES_BEFORE_PRUNE, 2 * this.names.size)
  }

  /** The number of `text` in the table of names (added on first use). */
  private name (text: string): number {
    let id = this.names.get(text)
    if (id == null) {
      id = Number(this.statements.insertName.run(text).lastInsertRowid)
      this.names.set(text, id)
      this.undo.push(() => { this.names.delete(text) })
    }
    return id
  }

  private optionalName (text: string | null | undefined): number | null {
    return text == null ? null : this.name(text)
  }
}

/**
 * Columns added since the first schema, each nullable: an older gridd reads and writes the file as before
 * (its statements name their columns), and a row it wrote reads back without them.
 */
const ADDED_COLUMNS: Array<{ table: 'sessions' | 'tasks', column: string, type: string }> = [
  { table: 'sessions', column: 'opener', type: 'TEXT' },
  // what counts against maxRetries (null: a row from before them, whose attempts all count)
  { table: 'tasks', column: 'counted_losses', type: 'INTEGER' },
  { table: 'tasks', column: 'excused_losses', type: 'INTEGER' }
]

/** The statements that add ADDED_COLUMNS to a file written before them, or nothing: the schema's CREATE TABLE has them on a new file. */
function addedColumns (db: DatabaseSync): string {
  const statements: string[] = []
  const present = new Map<string, Set<string>>()
  for (const { table, column, type } of ADDED_COLUMNS) {
    let columns = present.get(table)
    if (columns == null) present.set(table, columns = new Set(db.prepare(`PRAGMA table_info(${table})`).all().map(c => String(c.name))))
    if (columns.size > 0 && !columns.has(column)) statements.push(`ALTER TABLE ${table} ADD COLUMN ${column} ${type};`)
  }
  return statements.join(' ')
}
