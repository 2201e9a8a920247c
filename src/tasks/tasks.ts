import { basename, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Session, defaultSessionId } from './session.ts'
import type { SessionHost } from './session.ts'
import type { Task } from './task.ts'
import { TaskPool } from './pool.ts'
import type { PoolConfig, PoolDeps, PoolSettings } from './pool.ts'
import type { SessionOptions, TaskOptions } from './types.ts'
import { JournalRecorder } from './journal-recorder.ts'
import type { JournalContents } from './journal.ts'
import { resumeJournal } from './journal-resume.ts'
import { stoppedError } from './stopped-task.ts'
import { checkResultSize } from './result-cap.ts'
import { TASKS_DEFAULTS } from './config.ts'
import type { TasksConfig } from './config.ts'
import { OPEN_STATUS_NAMES, OVERVIEW_LIMIT, TaskStats } from './stats.ts'
import type { TasksOverview } from './stats.ts'
import { checkModulePath, checkModulePathSync } from '../owner/module-source.ts'
import { toWireError } from '../wire/wire-error.ts'
import { ConfigError, NodeStoppedError, TaskCancelledError } from '../errors.ts'
import { checkKnownKeys, checkOptional } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { checkResources } from '../checks/resources.ts'
import { checkModuleArgument } from './options-check.ts'
import { nonNegativeInteger, positiveInteger } from '../checks/values.ts'

const SWEEP_EVERY_MS = 30_000
/** A pool idle this long (no worker, nothing queued) is retired: a member shipping many modules, each a pool
 * with a sizer ticking every sizeEveryMs, would otherwise keep them all; the next task of its module makes a new one. */
const RETIRE_IDLE_POOL_MS = 60_000
const MAX_KEYS = 1024
const POOL_SETTINGS_KEYS: KnownKeys<PoolSettings> = { minWorkers: true, maxWorkers: true, window: true, resources: true }

/** Where a durable node keeps its journal (`<dataDir>/tasks.sqlite`), and how its data dir is made ready. */
export interface TasksJournalPlace {
  file: string
  prepare: () => Promise<void>
}

/**
 * `node.tasks` (DESIGN §12): sessions of tasks owned by this node, a pool of
 * workers per task module (placed like stages, sized by the equalizer), and
 * the names clients may run (`register`). `node.run/submit/session` delegate here.
 */
export class Tasks {
  private readonly owner: string
  private readonly deps: PoolDeps
  private readonly config: TasksConfig
  private readonly sessionsById = new Map<string, Session>()
  private readonly pools = new Map<string, Promise<TaskPool>>()
  /** `configure`d settings per module (pool key). */
  private readonly poolSettings = new Map<string, PoolSettings>()
  /** Pools made, by key: a task for one of them is queued at once, without a promise turn. */
  private readonly readyPools = new Map<string, TaskPool>()
  /** Pool keys by the module as given (resolving a path on every submit shows in profiles). */
  private readonly keys = new Map<string, string>()
  private readonly started = new Set<TaskPool>()
  private readonly registered = new Map<string, string>()
  /** The pool each task was queued in: a task resumed by its journaled path, before its name is registered
   * again, is in the pool of that path, which its name no longer finds (cancel must reach its attempt). */
  private readonly queuedIn = new WeakMap<Task, string>()
  /** Directories holding other peers' code (shipped task modules): pools over them spawn it as shipped code. */
  private readonly foreignDirs: string[] = []
  private shippedCodeBytes: () => number = () => 0
  private readonly host: SessionHost
  private readonly defaultSession: Session
  /** The journal's writer, when `durable` and the node has a data dir. */
  private readonly recorder?: JournalRecorder
  private sweep?: NodeJS.Timeout
  private stopped = false
  private readonly stats = new TaskStats()

  constructor (owner: string, deps: PoolDeps, config: Partial<TasksConfig> = {}, journal?: TasksJournalPlace) {
    this.owner = owner
    this.deps = deps
    this.config = { ...TASKS_DEFAULTS, ...config }
    this.host = {
      enqueue: (task, module, options) => {
        this.follow(task, module, options)
        this.enqueue(task, module, options)
      },
      // a stopping node's task would be made after its journal's last batch, or left to its pool's stop
      checkAccepting: () => { if (this.stopped) throw new NodeStoppedError() },
      checkModule: module => { this.checkModule(module) },
      cancel: (task, reason) => { void this.cancelTask(task, reason) },
      closed: session => { this.recorder?.session(session) },
      changed: (task, previous) => {
        this.stats.changed(task, previous)
        this.recorder?.statusChanged(task)
      },
      listenerThrew: (task, event, err) => { deps.log.error({ err, task: task.id, event }, `a "${event}" listener of task ${task.id} threw; the task goes on`) }
    }
    this.defaultSession = this.session({ name: 'default' }, defaultSessionId(owner), true)
    // made after the default session, which is journaled with its first task: a node that owns no task writes no file
    if (this.config.durable && journal != null) this.recorder = new JournalRecorder({ ...journal, maxResultBytes: this.config.maxResultBytes, log: deps.log })
  }

  /**
   * Resumes what the journal holds (JournalError if it cannot be read), then sweeps old results. A large journal
   * takes seconds to read: if `signal` aborts meanwhile, its reason is thrown and nothing is resumed.
   */
  async start (options: { signal?: AbortSignal } = {}): Promise<void> {
    const journaled = await this.recorder?.openExisting(options.signal)
    options.signal?.throwIfAborted()
    if (journaled != null) this.resume(journaled)
    this.sweep = setInterval(() => { this.forgetOld() }, SWEEP_EVERY_MS)
    this.sweep.unref()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.sweep)
    // one step: the journal's last batch and the end here of every task it leaves open (a later answer is dropped, not told final)
    await this.recorder?.close(() => { for (const session of this.sessionsById.values()) for (const task of [...session.openTasks()]) this.endLeftInJournal(task) })
    // without a journal (or a row in it), what stopping cancels is lost: cancelled for good
    for (const session of this.sessionsById.values()) session.cancel('the node is stopping')
    await Promise.allSettled([...this.started].map(async pool => { await pool.stop() }))
  }

  /**
   * Ends `task` here alone (its attempt's signal aborted), as not final: its journal resumes it at the next start.
   * Not one without a row (made after the last batch): told it resumes, it would not exist after the restart.
   */
  private endLeftInJournal (task: Task): void {
    if (task.journal?.row == null) return
    const error = stoppedError(task.id)
    const pool = this.readyPools.get(this.queuedIn.get(task) ?? this.poolKey(task.path ?? task.module))
    if (pool != null) pool.end(task, 'cancelled', error.message, error)
    else task.mark('cancelled', toWireError(error))
  }

  /**
   * A new session: tasks submitted through it get its defaults. `keptOpen`: the default session, which no caller
   * closes; `opener`: the remote peer (tasks protocol) or `api:<subject>` (HTTP API) that opened it, journaled
   * so that after a restart it is still theirs and charged to their budget again; `createdAt`: when one restored
   * from the journal was opened.
   */
  session (options: SessionOptions = {}, id?: string, keptOpen = false, opener?: string, createdAt?: number): Session {
    if (this.stopped) throw new NodeStoppedError()
    const session = new Session(this.owner, options, this.host, id, keptOpen, opener, createdAt)
    this.sessionsById.set(session.id, session)
    this.recorder?.session(session)
    // a closed session is forgotten once done (its tasks' results go with it)
    void session.done.then(() => { if (session !== this.defaultSession) this.dropSession(session) })
    return session
  }

  submit (module: string | URL, input?: unknown, options: TaskOptions = {}): Task {
    if (this.stopped) throw new NodeStoppedError()
    return this.defaultSession.submit(module, input, options)
  }

  run (module: string | URL, input?: unknown, options: TaskOptions = {}): Promise<unknown> {
    // no async layer of its own (session.run never throws synchronously: it returns a rejected promise)
    if (this.stopped) return Promise.reject(new NodeStoppedError())
    return this.defaultSession.run(module, input, options)
  }

  /** Modules under `dir` are other peers' code: their workers run them as shipped code, on this node too.
   * `bytes` reads what that cache holds on disk (the overview's `moduleCacheBytes`). */
  foreignCodeIn (dir: string, bytes?: () => number): void {
    if (!this.foreignDirs.includes(dir)) this.foreignDirs.push(dir)
    if (bytes != null) this.shippedCodeBytes = bytes
  }

  /** Lets `name` be run by clients (who may not ship code): `grid task run name`. */
  register (name: string, module: string | URL): void {
    checkModuleArgument(module)
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new ConfigError('name', `task name "${name}" must be 1-64 letters, digits, '.', '_' or '-'`)
    this.registered.set(name, modulePath(module))
    this.keys.clear()
  }

  /** The module registered as `name`, if any. */
  registeredModule (name: string): string | undefined {
    return this.registered.get(name)
  }

  registeredNames (): string[] {
    return [...this.registered.keys()]
  }

  getTask (id: string): Task | undefined {
    // the sessions hold their tasks: a second map of every task by id would double the per-task cost
    // of keeping results (lookups by id come from callers and queries, not from the task path)
    for (const session of this.sessionsById.values()) {
      const task = session.get(id)
      if (task != null) return task
    }
    return undefined
  }

  getSession (id: string): Session | undefined {
    return this.sessionsById.get(id)
  }

  sessions (): Session[] {
    return [...this.sessionsById.values()]
  }

  /** A new task is journaled (or, without a journal, only its result's size is checked). */
  private follow (task: Task, module: string | URL, options: TaskOptions): void {
    if (this.recorder != null) this.recorder.submitted(task, this.sessionsById.get(task.session)!, this.poolKey(String(module)), options.resources)
    else task.checkResult = value => { checkResultSize(task.id, value, this.config.maxResultBytes) }
  }

  private resume (journaled: JournalContents): void {
    const summary = resumeJournal(journaled, {
      session: row => this.sessionsById.get(row.id) ?? this.session({ name: row.name, maxRetries: row.maxRetries, timeoutMs: row.timeoutMs, priority: row.priority }, row.id, false, row.opener, row.createdAt),
      existing: id => this.sessionsById.get(id),
      defaultSession: this.defaultSession.id,
      adopt: (session, task, rowid) => {
        session.adopt(task)
        this.recorder?.resumed(task, rowid)
      },
      enqueue: (task, path, resources) => { this.enqueue(task, path, { resources }) }
    }, Date.now() - this.config.resultTtlMs)
    // a journal whose default session was closed (by an API cancel, before that kept it open) says it is open again
    if (journaled.sessions.some(row => row.id === this.defaultSession.id && row.closed)) this.recorder?.session(this.defaultSession)
    this.recorder?.forget(Date.now() - this.config.resultTtlMs)
    this.deps.log.info(summary, 'tasks resumed from the journal')
  }

  /** Totals since start, open tasks by status, latency buckets, open sessions and running tasks (metrics, dashboard). */
  overview (): TasksOverview {
    const open = { queued: 0, dispatched: 0, running: 0 }
    const sessions: TasksOverview['sessions'] = []
    for (const session of this.sessionsById.values()) {
      const counts = session.counts()
      for (const status of OPEN_STATUS_NAMES) open[status] += counts[status]
      sessions.push({ id: session.id, name: session.name, closed: session.isClosed, createdAt: session.createdAt, counts })
    }
    sessions.sort((a, b) => b.createdAt - a.createdAt)
    const running = [...this.stats.running].sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0)).slice(0, OVERVIEW_LIMIT).map(t => t.info())
    return {
      totals: { ...this.stats.totals },
      retries: this.stats.retries,
      open,
      latency: this.stats.latency(),
      sessions: sessions.slice(0, OVERVIEW_LIMIT),
      sessionCount: sessions.length,
      running,
      journalBytes: this.recorder?.bytes() ?? 0,
      moduleCacheBytes: this.shippedCodeBytes()
    }
  }

  private enqueue (task: Task, module: string | URL, options: TaskOptions): void {
    if (options.signal != null) {
      const signal = options.signal
      if (signal.aborted) { task.cancel('its signal was aborted'); return }
      const onAbort = (): void => { task.cancel('its signal was aborted') }
      signal.addEventListener('abort', onAbort, { once: true })
      void task.settled.then(() => { signal.removeEventListener('abort', onAbort) })
    }
    const key = this.poolKey(String(module))
    this.queuedIn.set(task, key)
    // what it runs, if not the module it shows (a shipped module's stored copy, a name's file); the journal keeps it as the row's path
    if (key !== task.module) task.path = key
    const ready = this.readyPools.get(key)
    if (ready != null) { ready.enqueue(task); return }
    this.poolFor(module, options).then(
      pool => { if (!task.final) pool.enqueue(task) },
      // the stop's cancel ends it, once the journal is closed: failed now, it was journaled as failed for good
      err => { if (!(err instanceof NodeStoppedError)) task.mark('failed', toWireError(err)) }
    )
  }

  /**
   * A module whose pool is not made yet must be readable now: a missing file failed each task later, as
   * ERR_TASK_FAILED with the ConfigError as its cause, where a pipeline's stage is refused with the ConfigError.
   * One file check per module, not per task: a made (or making) pool's module was read.
   */
  private checkModule (module: string | URL): void {
    const key = this.poolKey(String(module))
    if (!this.readyPools.has(key) && !this.pools.has(key)) checkModulePathSync(key)
  }

  private async cancelTask (task: Task, reason: string): Promise<void> {
    const pending = this.pools.get(this.queuedIn.get(task) ?? this.poolKey(task.path ?? task.module))
    const pool = pending == null ? undefined : await pending.catch(() => undefined)
    if (pool != null) pool.end(task, 'cancelled', reason)
    else task.mark('cancelled', toWireError(new TaskCancelledError(task.id, reason)))
  }

  private poolKey (module: string): string {
    let key = this.keys.get(module)
    if (key == null) {
      key = this.registered.get(module) ?? modulePath(module)
      // modules come from callers (and, through routing, from the network): the cache stays small
      if (this.keys.size >= MAX_KEYS) this.keys.clear()
      this.keys.set(module, key)
    }
    return key
  }

  private async poolFor (module: string | URL, options: TaskOptions): Promise<TaskPool> {
    const key = this.poolKey(String(module))
    let pool = this.pools.get(key)
    if (pool == null) {
      pool = this.makePool(key, options)
      this.pools.set(key, pool)
      pool.catch(() => { this.pools.delete(key) })
    }
    return await pool
  }

  /**
   * Per-module pool settings: workers kept at least and at most (the equalizer sizes within them), and the
   * resources of each worker. Applies to the pool now if it exists, else when its first task comes.
   */
  configure (module: string | URL, settings: PoolSettings): void {
    checkModuleArgument(module)
    checkKnownKeys('settings', settings, POOL_SETTINGS_KEYS, '')
    checkResources('resources', settings.resources)
    const min = checkOptional('minWorkers', nonNegativeInteger, settings.minWorkers)
    const max = checkOptional('maxWorkers', positiveInteger, settings.maxWorkers)
    checkOptional('window', positiveInteger, settings.window)
    if (min != null && max != null && min > max) throw new ConfigError('minWorkers', `must be at most maxWorkers (${max}), got ${min}`)
    const key = this.poolKey(String(module))
    const merged = { ...this.poolSettings.get(key), ...settings }
    this.poolSettings.set(key, merged)
    void this.pools.get(key)?.then(pool => { pool.reconfigure(merged) }, () => {})
  }

  private async makePool (path: string, options: TaskOptions): Promise<TaskPool> {
    const resolved = await checkModulePath(path)
    const settings = this.poolSettings.get(path) ?? {}
    const resources = settings.resources ?? options.resources
    const config: PoolConfig = {
      module: resolved,
      foreign: this.foreignDirs.some(dir => resolved.startsWith(dir + sep)),
      stage: `task:${basename(resolved)}`,
      resources: { cpu: resources?.cpu ?? 1, memoryMb: resources?.memoryMb ?? 0 },
      window: settings.window ?? this.config.window,
      cancelGraceMs: this.config.cancelGraceMs,
      minWorkers: settings.minWorkers ?? this.config.minWorkers,
      maxWorkers: settings.maxWorkers ?? this.config.maxWorkers,
      sizeEveryMs: this.config.sizeEveryMs,
      scaleDownAfterMs: this.config.scaleDownAfterMs
    }
    const pool = new TaskPool(config, this.deps)
    if (this.stopped) throw new NodeStoppedError()
    pool.start()
    this.started.add(pool)
    this.readyPools.set(path, pool)
    return pool
  }

  private forgetOld (): void {
    const before = Date.now() - this.config.resultTtlMs
    for (const session of this.sessionsById.values()) session.forgetFinal(before)
    this.recorder?.forget(before)
    this.retireIdlePools(Date.now())
  }

  /** Stops and forgets the pools idle for RETIRE_IDLE_POOL_MS; never one configured to keep workers (minWorkers > 0). */
  private retireIdlePools (now: number): void {
    for (const [key, pool] of this.readyPools) {
      if (pool.config.minWorkers > 0 || pool.idleFor(now) < RETIRE_IDLE_POOL_MS) continue
      this.readyPools.delete(key)
      this.pools.delete(key)
      this.started.delete(pool)
      void pool.stop()
    }
  }

  private dropSession (session: Session): void {
    this.recorder?.sessionDropped(session.id)
    this.sessionsById.delete(session.id)
  }
}

/** A module named by path or file URL, as a path (relative paths are the caller's cwd's). */
function modulePath (module: string | URL): string {
  if (module instanceof URL) return fileURLToPath(module)
  return module.startsWith('file:') ? fileURLToPath(module) : resolve(module)
}
