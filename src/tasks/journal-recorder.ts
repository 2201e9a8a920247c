import { existsSync } from 'node:fs'
import { Journal } from './journal.ts'
import type { JournalBatch, JournalContents, SessionRow, TaskChange } from './journal.ts'
import type { Session } from './session.ts'
import type { Task } from './task.ts'
import type { TaskOptions } from './types.ts'
import { encodeResult } from './result-cap.ts'
import type { Logger } from '../logger.ts'

export interface RecorderOptions {
  /** The journal file (`<dataDir>/tasks.sqlite`). */
  file: string
  /** Makes the data dir ready (created, mode checked) before the journal is opened. */
  prepare: () => Promise<void>
  maxResultBytes: number
  log: Logger
  /** Changes are collected this long, then written in one transaction. */
  flushEveryMs?: number
}

/** Default batching window: a burst of task events costs one transaction. */
export const FLUSH_EVERY_MS = 5
/** After a failed write, the next try (what failed stays pending). */
const RETRY_AFTER_MS = 1000
/** A failing journal is logged at most this often. */
const LOG_EVERY_MS = 30_000

interface NewTask {
  path: string
  input: string | null
  resources: string | null
}

/**
 * Turns what sessions and tasks do into batched journal writes: a task or
 * session that changes is marked, and every `flushEveryMs` the marked ones
 * are written as they are then, in one transaction (a task submitted and
 * finished within one window is one insert). The file is created on the
 * first write, so a node that never owns a task leaves none behind.
 */
export class JournalRecorder {
  private readonly options: RecorderOptions
  private readonly flushEveryMs: number
  private journal?: Journal
  private opening?: Promise<Journal>
  private readonly sessions = new Map<string, Session>()
  /** Sessions journaled (or in the next batch): a task's session is written before the task. */
  private readonly known = new Set<string>()
  private readonly newTasks = new Map<Task, NewTask>()
  private readonly changed = new Set<Task>()
  /** Dispatched since the last flush: a task still in flight at the next one is written then (a short task's dispatch and end are one write). */
  private fresh = new Set<Task>()
  /** Dispatched before the last flush: written with the next one if still in flight. */
  private ripe = new Set<Task>()
  /** The journal row of each unfinished task written (or read back): a final task changes no more. */
  private readonly rowids = new Map<Task, number>()
  /** Result JSON made when the size was checked, kept until it is written. */
  private readonly results = new Map<Task, string | null>()
  private readonly dropped = new Set<string>()
  private forgetBefore?: number
  private timer?: NodeJS.Timeout
  private closed = false
  private lastLogged = 0

  constructor (options: RecorderOptions) {
    this.options = options
    this.flushEveryMs = options.flushEveryMs ?? FLUSH_EVERY_MS
  }

  /** Opens the journal if there is one (throws JournalError if it cannot be used) and reads it; undefined if none yet. */
  async openExisting (): Promise<JournalContents | undefined> {
    if (!existsSync(this.options.file)) return undefined
    const contents = (await this.ready()).load()
    for (const session of contents.sessions) this.known.add(session.id)
    return contents
  }

  /** A session was made or closed. */
  session (session: Session): void {
    if (this.closed) return
    this.known.add(session.id)
    this.sessions.set(session.id, session)
    this.schedule()
  }

  /** A new task: inserted with the next batch, then followed. Its input is encoded now: one JSON cannot hold fails it before it runs. */
  submitted (task: Task, session: Session, path: string, resources: TaskOptions['resources']): void {
    this.follow(task)
    if (this.closed) return
    // the default session is written with its first task
    if (!this.known.has(session.id)) this.session(session)
    let input: string | null
    try {
      input = json(task.input)
    } catch (err) {
      task.mark('failed', { name: 'TypeError', message: `its input cannot be journaled as JSON (or pass tasks: { durable: false }): ${(err as Error).message}` })
      return
    }
    this.newTasks.set(task, { path, input, resources: resources == null ? null : JSON.stringify(resources) })
    this.schedule()
  }

  /** A task read back from the journal (row `rowid`): followed. */
  resumed (task: Task, rowid: number): void {
    if (!task.final) this.rowids.set(task, rowid)
    this.follow(task)
  }

  /** A session closed and done: its row and its tasks' go. */
  sessionDropped (id: string): void {
    if (this.closed) return
    this.known.delete(id)
    this.sessions.delete(id)
    this.dropped.add(id)
    this.schedule()
  }

  /** Final tasks that ended before `before` are deleted (their results are no longer served). */
  forget (before: number): void {
    if (this.closed) return
    this.forgetBefore = Math.max(this.forgetBefore ?? 0, before)
    this.schedule()
  }

  /** Writes what is pending now, in one transaction; `all`: attempts that just started too (not left for the next flush). */
  async flush (all = false): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (!this.pending()) return
    const journal = this.journal ?? await this.open()
    if (journal == null || !this.pending()) return
    this.ripen(all)
    const { batch, inserted } = this.batch()
    if (batch.sessions.length + batch.newTasks.length + batch.changedTasks.length + batch.droppedSessions.length === 0 && batch.forgetEndedBefore == null) {
      this.schedule()
      return
    }
    try {
      const rowids = journal.commit(batch)
      for (const [i, task] of inserted.entries()) if (!task.final) this.rowids.set(task, rowids[i]!)
      for (const task of this.changed) if (task.final) this.rowids.delete(task)
    } catch (err) {
      this.warn(err, 'task journal write failed: trying again')
      this.timer = setTimeout(() => { void this.flush() }, RETRY_AFTER_MS)
      return
    }
    // a result is kept from its check to its task's status change, which put the task in this batch (or its session is gone)
    this.results.clear()
    this.newTasks.clear()
    this.changed.clear()
    this.sessions.clear()
    this.dropped.clear()
    this.forgetBefore = undefined
    if (this.pending()) this.schedule()
  }

  /** Writes what is pending and closes the file; later changes are not recorded (what is journaled resumes at the next start). */
  async close (): Promise<void> {
    await this.flush(true)
    this.closed = true
    clearTimeout(this.timer)
    this.journal?.close()
  }

  private follow (task: Task): void {
    task.checkResult = value => {
      const encoded = encodeResult(task.id, value, this.options.maxResultBytes)
      if (!this.closed) this.results.set(task, encoded)
    }
    task.on('status', event => {
      // a start changes nothing a restart needs (dispatched and running resume alike): it goes with the next change
      if (this.closed || event.status === 'running') return
      // a task not yet inserted is written as it is at the flush
      if (this.newTasks.has(task)) return
      if (event.status === 'dispatched') {
        this.fresh.add(task)
      } else {
        this.fresh.delete(task)
        this.ripe.delete(task)
        this.changed.add(task)
      }
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.timer == null && !this.closed) this.timer = setTimeout(() => { void this.flush() }, this.flushEveryMs)
  }

  private pending (): boolean {
    return !this.closed && (this.newTasks.size > 0 || this.changed.size > 0 || this.fresh.size > 0 || this.ripe.size > 0 || this.sessions.size > 0 || this.dropped.size > 0 || this.forgetBefore != null)
  }

  /** Attempts in flight since before the last flush (or all, when closing) become changes to write. */
  private ripen (all: boolean): void {
    for (const task of this.ripe) this.changed.add(task)
    this.ripe = this.fresh
    this.fresh = new Set()
    if (!all) return
    for (const task of this.ripe) this.changed.add(task)
    this.ripe = new Set()
  }

  /** The journal, opened once (the data dir made ready first); JournalError if it cannot be used. */
  private async ready (): Promise<Journal> {
    this.opening ??= (async () => {
      await this.options.prepare()
      this.journal = Journal.open(this.options.file)
      return this.journal
    })()
    return await this.opening
  }

  /** For a write: the journal, or undefined (logged) when it cannot be created. */
  private async open (): Promise<Journal | undefined> {
    try {
      return await this.ready()
    } catch (err) {
      // not fatal to the tasks themselves: they run, only without a journal
      if (!this.closed) this.options.log.error({ err, file: this.options.file }, 'task journal cannot be created: tasks are not durable')
      this.closed = true
      return undefined
    }
  }

  private batch (): { batch: JournalBatch, inserted: Task[] } {
    const kept = (task: Task): boolean => !this.dropped.has(task.session)
    const newTasks: JournalBatch['newTasks'] = []
    const inserted: Task[] = []
    for (const [task, extra] of this.newTasks) {
      if (!kept(task)) continue
      inserted.push(task)
      newTasks.push({ ...this.state(task), id: task.id, session: task.session, module: task.module, path: extra.path, input: extra.input, resources: extra.resources, priority: task.priority, maxRetries: task.maxRetries, timeoutMs: task.timeoutMs, submitter: task.submitter, submittedAt: task.submittedAt })
    }
    const changedTasks: TaskChange[] = []
    for (const task of this.changed) {
      const rowid = this.rowids.get(task)
      // no row: its insert failed to encode, or its session is going
      if (rowid == null || !kept(task)) continue
      changedTasks.push({ ...this.state(task), rowid })
    }
    const sessions: SessionRow[] = [...this.sessions.values()].map(s => ({ id: s.id, name: s.name, ...s.defaults, closed: s.isClosed, createdAt: s.createdAt }))
    return { batch: { sessions, newTasks, changedTasks, droppedSessions: [...this.dropped], forgetEndedBefore: this.forgetBefore }, inserted }
  }

  private state (task: Task): Omit<TaskChange, 'rowid'> {
    // encoded when its size was checked (null: undefined)
    const result = task.status === 'completed' ? this.results.get(task) ?? null : null
    return { status: task.status, attempts: task.attempts, agent: task.agent, startedAt: task.startedAt, endedAt: task.endedAt, error: task.error == null ? null : JSON.stringify(task.error), result }
  }

  private warn (err: unknown, msg: string): void {
    if (Date.now() - this.lastLogged < LOG_EVERY_MS) return
    this.lastLogged = Date.now()
    this.options.log.warn({ err, file: this.options.file }, msg)
  }
}

/** JSON text, or null for undefined. */
function json (value: unknown): string | null {
  return JSON.stringify(value) ?? null
}
