import { existsSync } from 'node:fs'
import { BatchPacker, isEmpty } from './journal-batch.ts'
import type { PackedBatch } from './journal-batch.ts'
import { JournalWriter, RETRY_AFTER_MS } from './journal-writer.ts'
import type { StartWriter, Writer } from './journal-writer.ts'
import type { JournalContents } from './journal.ts'
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
  /** Batches posted to the writer thread and not yet written, at most; past it, changes wait (and merge) here. */
  maxInFlight?: number
  /** After a failed write, the next try. */
  retryAfterMs?: number
  /** Starts the writer thread (JournalWriter.start; a unit test may pass a stub). */
  startWriter?: StartWriter
}

/**
 * Default batching window: a burst of task events costs one transaction, and a
 * task that ends within it is one insert, not an insert and an update.
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

interface NewTask {
  path: string
  input: string | null
  resources: string | null
}

/**
 * Turns what sessions and tasks do into batched journal writes: a task or
 * session that changes is marked, and every `flushEveryMs` the marked ones
 * are packed as they are then and posted to the journal's writer thread,
 * which writes each batch in one transaction (a task submitted and finished
 * within one window is one insert). At most `maxInFlight` batches wait for
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
  private readonly newTasks = new Map<Task, NewTask>()
  private readonly changed = new Set<Task>()
  /** Dispatched since the last flush: a task still in flight at the next one is written then (a short task's dispatch and end are one write). */
  private fresh = new Set<Task>()
  /** Dispatched before the last flush: written with the next one if still in flight. */
  private ripe = new Set<Task>()
  /** The journal row of each unfinished task written (or read back): a final task changes no more. */
  private readonly rowids = new Map<Task, number>()
  /** The next task's row: numbered here (the file has one writer), so an update never waits on its insert. */
  private nextRowid = 1
  /** Result JSON made when the size was checked, kept until it is written. */
  private readonly results = new Map<Task, string | null>()
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
    const { results, options: { maxResultBytes } } = this
    const recording = (): boolean => !this.closed
    this.checkResult = function (value) {
      const encoded = encodeResult(this.id, value, maxResultBytes)
      if (recording()) results.set(this, encoded)
    }
  }

  /** Opens the journal if there is one (throws JournalError if it cannot be used) and reads it; undefined if none yet. */
  async openExisting (): Promise<JournalContents | undefined> {
    if (!existsSync(this.options.file)) return undefined
    const { contents } = await this.ready()
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
    this.newTasks.set(task, { path, input, resources: resources == null ? null : JSON.stringify(resources) })
    this.schedule()
  }

  /** A task read back from the journal (row `rowid`): followed. */
  resumed (task: Task, rowid: number): void {
    if (!task.final) this.rowids.set(task, rowid)
    task.checkResult = this.checkResult
  }

  /** A task's status changed (the tasks service tells every change of every task: no listener per task). */
  statusChanged (task: Task): void {
    const status = task.status
    // a start changes nothing a restart needs (dispatched and running resume alike): it goes with the next change;
    // a task not yet inserted is written as it is at the flush
    if (this.closed || status === 'running' || this.newTasks.has(task)) return
    if (status === 'dispatched') {
      this.fresh.add(task)
    } else {
      this.fresh.delete(task)
      this.ripe.delete(task)
      this.changed.add(task)
    }
    this.schedule()
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
    // a journal never opened (no file at start, nothing written since) holds nothing to forget: opening
    // it here started the writer thread on every node's first sweep, tasks or not (and made the file)
    if (this.closed || this.opening == null) return
    this.forgetBefore = Math.max(this.forgetBefore ?? 0, before)
    this.schedule()
  }

  /**
   * Posts what is pending now as one batch; `all`: attempts that just started too
   * (not left for the next flush), and even past `maxInFlight` (the last batch before closing).
   */
  async flush (all = false): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (!this.pending()) return
    const writer = this.writer ?? await this.open()
    if (writer == null || !this.pending()) return
    // the writer is behind: changes wait here (merged per task) until it writes a batch
    if (!all && writer.inFlight >= this.maxInFlight) {
      this.heldBack = true
      return
    }
    this.heldBack = false
    this.ripen(all)
    const batch = this.batch()
    // a result is kept from its check to its task's status change, which put the task in this batch (or its session is gone)
    this.results.clear()
    this.newTasks.clear()
    this.changed.clear()
    this.sessions.clear()
    this.dropped.clear()
    this.forgetBefore = undefined
    if (!isEmpty(batch)) writer.write(batch)
    if (this.pending()) this.schedule()
  }

  /**
   * Writes what is pending and closes the file, waiting for the writer thread;
   * later changes are not recorded (what is journaled resumes at the next start).
   * Called again while closing (the node's stop overran its time), it stops the thread at once.
   */
  async close (): Promise<void> {
    if (this.closed) {
      await this.writer?.terminate()
      return
    }
    await this.flush(true)
    this.closed = true
    clearTimeout(this.timer)
    const unwritten = await this.writer?.close() ?? 0
    if (unwritten > 0) this.options.log.error({ file: this.options.file, batches: unwritten }, 'task journal: the last changes could not be written before closing')
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

  /** The writer thread, started once (the data dir made ready first); JournalError if the journal cannot be used. */
  private async ready (): Promise<{ writer: Writer, contents: JournalContents }> {
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
      }, this.options.retryAfterMs ?? RETRY_AFTER_MS)
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
  private batch (): PackedBatch {
    const packer = new BatchPacker(this.newTasks.size, this.changed.size)
    for (const [task, extra] of this.newTasks) {
      // its session is going: so are its rows
      if (this.dropped.has(task.session)) continue
      const rowid = this.nextRowid++
      if (!task.final) this.rowids.set(task, rowid)
      packer.insert(rowid, task, extra.path, extra.input, extra.resources, this.error(task), this.result(task))
    }
    for (const task of this.changed) {
      const rowid = this.rowids.get(task)
      // no row: its input failed to encode
      if (rowid == null || this.dropped.has(task.session)) continue
      if (task.final) this.rowids.delete(task)
      packer.update(rowid, task, this.error(task), this.result(task))
    }
    const sessions = [...this.sessions.values()].map(s => ({ id: s.id, name: s.name, ...s.defaults, closed: s.isClosed, createdAt: s.createdAt }))
    return packer.finish({ sessions, droppedSessions: [...this.dropped], forgetEndedBefore: this.forgetBefore })
  }

  /** Encoded when its size was checked (null: undefined). */
  private result (task: Task): string | null {
    return task.status === 'completed' ? this.results.get(task) ?? null : null
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
