import { existsSync, statSync } from 'node:fs'
import { BatchPacker, isEmpty } from './journal-batch.ts'
import type { PackedBatch } from './journal-batch.ts'
import { JournalWriter, RETRY_AFTER_MS } from './journal-writer.ts'
import type { StartWriter, Writer } from './journal-writer.ts'
import type { JournalContents } from './journal.ts'
import type { Session } from './session.ts'
import type { Task } from './task.ts'
import type { TaskOptions } from './types.ts'
import { encodeResult } from './result-cap.ts'
import type { JournalEntry } from './journal-entry.ts'
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
  /** Batches posted to the writer thread and not yet written, at most; past it, changes wait (and merge) here. */
  maxInFlight?: number
  /** After a failed write, the next try. */
  retryAfterMs?: number
  /** Starts the writer thread (JournalWriter.start; a unit test may pass a stub). */
  startWriter?: StartWriter
}

/**
 * Default batching window: a burst of task events costs one transaction, and a
 * task that ends within a window or two is one insert, not an insert and an update.
 */
export const FLUSH_EVERY_MS = 10
/**
 * Default bound on batches in flight to the writer: the one being written. While it is,
 * changes merge here (a task submitted and finished meanwhile is one row written, not two),
 * so a busy writer writes less per task rather than falling behind.
 */
export const MAX_IN_FLIGHT = 1
/** A failing journal is logged at most this often. */
const LOG_EVERY_MS = 30_000


/**
 * Turns what sessions and tasks do into batched journal writes: a task or
 * session that changes is marked, and every `flushEveryMs` the marked ones
 * are packed as they are then and posted to the journal's writer thread,
 * which writes each batch in one transaction (a new task is inserted one
 * flush after it came, so one that ended by then is one insert). At most `maxInFlight` batches wait for
 * the thread: past that (a slow disk), changes stay marked here, where a
 * task's many changes are one. The file is created on the first write, so a
 * node that never owns a task leaves none behind.
 */
export class JournalRecorder {
  private readonly options: RecorderOptions
  private readonly flushEveryMs: number
  private readonly maxInFlight: number
  private writer?: Writer
  private opening?: Promise<{ writer: Writer, contents: JournalContents }>
  private readonly sessions = new Map<string, Session>()
  /** Sessions journaled (or in the next batch): a task's session is written before the task. */
  private readonly known = new Set<string>()
  /** Tasks submitted since the last flush, waiting for their insert (their entry's `insert`), in the order they came. */
  private newTasks: Task[] = []
  /**
   * Submitted before the last flush: inserted with the next one, as they are then. A no-op task 1,000 in
   * flight lives 10-20 ms, so written one flush after it came, most tasks are one row (their end included)
   * rather than an insert and an update (a crash loses what came in the last two windows, not one).
   */
  private settling: Task[] = []
  /** Tasks with a change to write (their entry's `changed`), in the order they changed. */
  private changed: Task[] = []
  /**
   * Dispatched since the last flush (in window `windows`): a task still in flight at the next one is written
   * then (a short task's dispatch and end are one write). Lists, not sets: a task whose attempt has ended since
   * (its entry's `dispatchedIn` no longer says this window) is passed over.
   */
  private fresh: Task[] = []
  /** Dispatched before the last flush (in window `windows - 1`): written with the next one if still in flight. */
  private ripe: Task[] = []
  /** Flushes so far (see `fresh`). */
  private windows = 0
  /** The next task's row: numbered here (the file has one writer), so an update never waits on its insert. */
  private nextRowid = 1
  private readonly dropped = new Set<string>()
  private forgetBefore?: number
  private timer?: NodeJS.Timeout
  /** A flush found the writer behind: the next batch goes as soon as it writes one. */
  private heldBack = false
  private closed = false
  private lastLogged = 0
  /** One size check for every task (`this` is the task): no closure per task. */
  private readonly checkResult: (this: Task, value: unknown) => void

  constructor (options: RecorderOptions) {
    this.options = options
    this.flushEveryMs = options.flushEveryMs ?? FLUSH_EVERY_MS
    this.maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT
    const { options: { maxResultBytes } } = this
    const recording = (): boolean => !this.closed
    this.checkResult = function (value) {
      const encoded = encodeResult(this.id, value, maxResultBytes)
      // kept from its check to its task's status change, which puts the task in the next batch
      if (recording() && this.journal != null) this.journal.result = encoded
    }
  }

  /**
   * Opens the journal if there is one (throws JournalError if it cannot be used) and reads it; undefined if none yet.
   * If `signal` aborts while it is read, its reason is thrown and nothing more is journaled (the file is left as it was).
   */
  async openExisting (signal?: AbortSignal): Promise<JournalContents | undefined> {
    if (!existsSync(this.options.file)) return undefined
    const { contents } = await this.ready(signal).catch((err: unknown) => {
      if (signal?.aborted === true) this.closed = true
      throw err
    })
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
    task.checkResult = this.checkResult
    if (this.closed) return
    // the default session is written with its first task
    if (!this.known.has(session.id)) this.session(session)
    let input: string | null
    try {
      input = JSON.stringify(task.input) ?? null
    } catch (err) {
      task.mark('failed', { name: 'TypeError', message: `its input cannot be journaled as JSON (or pass tasks: { durable: false }): ${(err as Error).message}` })
      return
    }
    task.journal = { insert: { path, input, resources: resources == null ? null : JSON.stringify(resources) } }
    this.newTasks.push(task)
    this.schedule()
  }

  /** A task read back from the journal (row `rowid`): followed. */
  resumed (task: Task, rowid: number): void {
    task.journal = task.final ? {} : { row: rowid }
    task.checkResult = this.checkResult
  }

  /** A task's status changed (the tasks service tells every change of every task: no listener per task). */
  statusChanged (task: Task): void {
    const status = task.status
    // a start changes nothing a restart needs (dispatched and running resume alike): it goes with the next change;
    // a task not yet inserted is written as it is at the flush
    const entry = task.journal
    // no entry: its input could not be encoded, so it has no row
    if (this.closed || status === 'running' || entry == null || entry.insert != null) return
    if (status === 'dispatched') {
      if (entry.dispatchedIn !== this.windows) this.fresh.push(task)
      entry.dispatchedIn = this.windows
    } else {
      entry.dispatchedIn = undefined
      this.markChanged(task, entry)
    }
    this.schedule()
  }

  /** A session closed and done: its row and its tasks' go. */
  sessionDropped (id: string): void {
    if (this.closed) return
    this.known.delete(id)
    this.sessions.delete(id)
    this.dropped.add(id)
    // its tasks waiting for their insert have no row to write (a later batch would find no session for them)
    this.newTasks = this.newTasks.filter(task => task.session !== id)
    this.settling = this.settling.filter(task => task.session !== id)
    this.schedule()
  }

  /** Final tasks that ended before `before` are deleted (their results are no longer served). */
  forget (before: number): void {
    // a journal never opened (no file at start, nothing written since) holds nothing to forget: opening
    // it here started the writer thread on every node's first sweep, tasks or not (and made the file)
    if (this.closed || this.opening == null) return
    this.forgetBefore = Math.max(this.forgetBefore ?? 0, before)
    this.schedule()
  }

  /**
   * Posts what is pending now as one batch; `all`: tasks that just came and attempts that just
   * started too (not left for the next flush), and even past `maxInFlight` (the last batch before closing).
   */
  async flush (all = false): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (!this.pending()) return
    const writer = this.writer ?? await this.open()
    if (writer != null) this.post(writer, all)
  }

  /** flush's synchronous part, once the writer is there. */
  private post (writer: Writer, all: boolean): void {
    if (!this.pending()) return
    // the writer is behind: changes wait here (merged per task) until it writes a batch
    if (!all && writer.inFlight >= this.maxInFlight) {
      this.heldBack = true
      return
    }
    // after a flush held back, the tasks that came meanwhile have waited long enough
    const due = this.settle(all || this.heldBack)
    this.heldBack = false
    this.ripen(all)
    const batch = this.batch(due)
    this.changed = []
    this.sessions.clear()
    this.dropped.clear()
    this.forgetBefore = undefined
    if (!isEmpty(batch)) writer.write(batch)
    if (this.pending()) this.schedule()
  }

  /** The journal's bytes on disk now: the file and its write-ahead log (`gridd_task_journal_bytes`). */
  bytes (): number {
    let total = 0
    for (const path of [this.options.file, `${this.options.file}-wal`]) {
      try { total += statSync(path).size } catch {} // not made yet, or checkpointed away
    }
    return total
  }

  /**
   * Writes what is pending and closes the file, waiting for the writer thread;
   * later changes are not recorded (what is journaled resumes at the next start).
   * `sealed` is called once the last batch is posted, in the same step (no task can
   * end between them), if the journal was recording: every task open then is open in
   * the journal, and what ends after it is this process's alone.
   * Called again while closing (the node's stop overran its time), it stops the thread at once.
   */
  async close (sealed?: () => void): Promise<void> {
    if (this.closed) {
      await this.writer?.terminate()
      return
    }
    // the file made first, if nothing was written yet: the ends that come meanwhile are still recorded
    const writer = this.writer ?? (this.pending() ? await this.open() : undefined)
    if (this.closed) return
    if (writer != null) this.post(writer, true)
    this.closed = true
    clearTimeout(this.timer)
    sealed?.()
    const unwritten = await this.writer?.close() ?? 0
    if (unwritten > 0) this.options.log.error({ file: this.options.file, batches: unwritten }, 'task journal: the last changes could not be written before closing')
  }

  private schedule (): void {
    if (this.timer == null && !this.closed) this.timer = setTimeout(() => { void this.flush() }, this.flushEveryMs)
  }

  private pending (): boolean {
    return !this.closed && (this.newTasks.length > 0 || this.settling.length > 0 || this.changed.length > 0 || this.fresh.length > 0 || this.ripe.length > 0 || this.sessions.size > 0 || this.dropped.size > 0 || this.forgetBefore != null)
  }

  /** The new tasks to insert now: those submitted before the last flush (or all, `now`); the others wait for the next. */
  private settle (now: boolean): Task[] {
    let due = this.settling
    if (now) due = due.length === 0 ? this.newTasks : due.concat(this.newTasks)
    this.settling = now ? [] : this.newTasks
    this.newTasks = []
    return due
  }

  /** Attempts in flight since before the last flush (or all, when closing) become changes to write. */
  private ripen (all: boolean): void {
    this.changeInFlight(this.ripe, this.windows - 1)
    this.ripe = this.fresh
    this.fresh = []
    this.windows++
    if (!all) return
    this.changeInFlight(this.ripe, this.windows - 1)
    this.ripe = []
  }

  /** Those of `tasks` whose attempt of window `window` is still in flight become changes to write. */
  private changeInFlight (tasks: Task[], window: number): void {
    for (const task of tasks) {
      const entry = task.journal!
      if (entry.dispatchedIn === window) this.markChanged(task, entry)
    }
  }

  private markChanged (task: Task, entry: JournalEntry): void {
    if (entry.changed === true) return
    entry.changed = true
    this.changed.push(task)
  }

  /** The writer thread, started once (the data dir made ready first); JournalError if the journal cannot be used. */
  private async ready (signal?: AbortSignal): Promise<{ writer: Writer, contents: JournalContents }> {
    this.opening ??= (async () => {
      await this.options.prepare()
      const start = this.options.startWriter ?? JournalWriter.start
      const started = await start(this.options.file, {
        written: () => { if (this.heldBack) void this.flush() },
        failed: err => { this.warn(err, 'task journal write failed: trying again') },
        lost: err => {
          this.options.log.error({ err, file: this.options.file }, 'task journal writer stopped: tasks are no longer durable')
          this.closed = true
        }
      }, this.options.retryAfterMs ?? RETRY_AFTER_MS, signal)
      this.writer = started.writer
      this.nextRowid = started.writer.nextRowid
      return started
    })()
    return await this.opening
  }

  /** For a write: the writer, or undefined (logged) when the journal cannot be created. */
  private async open (): Promise<Writer | undefined> {
    try {
      return (await this.ready()).writer
    } catch (err) {
      // not fatal to the tasks themselves: they run, only without a journal
      if (!this.closed) this.options.log.error({ err, file: this.options.file }, 'task journal cannot be created: tasks are not durable')
      this.closed = true
      return undefined
    }
  }

  /** What is pending, packed; rows are numbered for the new tasks, and let go for the tasks now final. */
  private batch (newTasks: Task[]): PackedBatch {
    const packer = new BatchPacker(newTasks.length, this.changed.length)
    for (const task of newTasks) {
      const entry = task.journal!
      const extra = entry.insert!
      entry.insert = undefined
      // its session is going: so are its rows
      if (this.dropped.has(task.session)) continue
      const rowid = this.nextRowid++
      if (!task.final) entry.row = rowid
      packer.insert(rowid, task, extra.path, extra.input, extra.resources, this.error(task), this.result(entry, task))
    }
    for (const task of this.changed) {
      const entry = task.journal!
      entry.changed = false
      const rowid = entry.row
      if (rowid == null || this.dropped.has(task.session)) continue
      if (task.final) entry.row = undefined
      packer.update(rowid, task, this.error(task), this.result(entry, task))
    }
    const sessions = [...this.sessions.values()].map(s => ({ id: s.id, name: s.name, ...s.defaults, closed: s.isClosed, createdAt: s.createdAt, opener: s.opener }))
    return packer.finish({ sessions, droppedSessions: [...this.dropped], forgetEndedBefore: this.forgetBefore })
  }

  /** Encoded when its size was checked (null: undefined); let go once packed. */
  private result (entry: JournalEntry, task: Task): string | null {
    const result = entry.result
    entry.result = undefined
    return task.status === 'completed' ? result ?? null : null
  }

  private error (task: Task): string | null {
    return task.error == null ? null : JSON.stringify(task.error)
  }

  private warn (err: unknown, msg: string): void {
    if (Date.now() - this.lastLogged < LOG_EVERY_MS) return
    this.lastLogged = Date.now()
    this.options.log.warn({ err, file: this.options.file }, msg)
  }
}
