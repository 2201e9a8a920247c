import type { WorkerHandle } from '../owner/worker-handle.ts'
import { Attempt } from './attempt.ts'
import type { PoolWorker } from './attempt.ts'
import { endedByRecall, heldAtCrash, liveIfAllStuck, recallWaiting, runningEnded, stuck, windowOf } from './long-task.ts'
import { cancelItem, EXCUSED_LOSSES, submitItem, workerGone } from '../owner/worker-handle.ts'
import type { SpawnOptions } from '../owner/workers.ts'
import type { Logger } from '../logger.ts'
import { FairQueue } from './queue.ts'
import type { Task } from './task.ts'
import { PoolSizer } from './pool-sizer.ts'
import { adaptedWindow } from '../equalizer/window.ts'
import type { PoolSizing } from './pool-sizer.ts'
import { toWireError } from '../wire/wire-error.ts'
import { AgentLostError, StageSetupError, TaskCancelledError, TaskLostError, TaskTimeoutError } from '../errors.ts'
import { failWaiting, SetupFailures } from './setup-failures.ts'
import { lossOf } from './loss.ts'
import { RefusalLog } from '../transport/mtls/refusal-log.ts'

/** What a pool needs of its node: spawning workers and asking how many more fit. */
export interface PoolDeps {
  spawn: (options: SpawnOptions, opts: { signal?: AbortSignal }) => Promise<WorkerHandle>
  capacity: (resources: SpawnOptions['resources'], limit: number) => number
  log: Logger
}

/** What `tasks.configure(module, settings)` sets for one module's pool. */
export interface PoolSettings {
  minWorkers?: number
  maxWorkers?: number
  /** Tasks sent to one worker at first and at least (it grows for cheap tasks); 1 keeps priorities exact: nothing waits in a worker. */
  window?: number
  resources?: { cpu?: number, memoryMb?: number }
}

export interface PoolConfig extends PoolSizing {
  /** Resolved module path on this node. */
  module: string
  /** Another peer's code (shipped to this node): spawned as shipped code wherever it lands. */
  foreign?: boolean
  /** Worker stage name (shown in `grid status`). */
  stage: string
  resources: { cpu: number, memoryMb: number }
  /**
   * Tasks sent to one worker at once (one runs, the rest wait there, saving a round trip): this many at
   * first and at least, then sized to hold about WINDOW_HOLD_MS of a worker's work (up to MAX_WINDOW),
   * so cheap tasks cross every hop in large batches while costly ones wait at the owner, where
   * priorities and fairness apply.
   */
  window: number
  /** A cancelled or timed-out task that has not let go of its worker by then gets the worker killed (and replaced). */
  cancelGraceMs: number
}

/** Most tasks on one worker at once, however cheap (the pipelines' default maxWindow). */
export const MAX_WINDOW = 1024
/** Work a worker's window holds at its measured rate: how long a task sent there may wait behind the others. */
const WINDOW_HOLD_MS = 10

/**
 * The workers of one task module, and the tasks waiting for them: tasks go to
 * the worker with the most room (up to the window each); a PoolSizer (the
 * equalizer's decision) adds and drains workers from arrival and processing
 * rates, and its measured rate sizes the window.
 */
export class TaskPool {
  readonly config: PoolConfig
  private readonly deps: PoolDeps
  private readonly queue = new FairQueue()
  /** Tasks whose worker crashed while they shared it: each waits for a worker of its own, ahead of the queue (loss.ts). */
  private readonly suspects = new Set<Task>()
  /** Suspects for good: however they are run again, it is alone. */
  private readonly isolated = new WeakSet<Task>()
  private readonly workers = new Set<PoolWorker>()
  private readonly sizer: PoolSizer
  private starting = 0
  private closed = false
  private readonly abort = new AbortController()
  private lastSpawnError = 0
  /** When it last held a worker or a task (see idleFor). */
  private activeAt = Date.now()
  /** Tasks in flight per worker now (see PoolConfig.window). */
  private window: number
  private readonly setupFailures = new SetupFailures()
  private readonly lostLog: RefusalLog // 'task worker lost': one line a minute per way (a module crashing every worker must not flood)

  constructor (config: PoolConfig, deps: PoolDeps) {
    this.config = config
    this.deps = deps
    this.lostLog = new RefusalLog(deps.log)
    this.window = config.window
    this.sizer = new PoolSizer(config, {
      sample: () => this.sample(),
      spawn: count => { for (let i = 0; i < count; i++) void this.addWorker() },
      drain: count => { this.drain(count) },
      measured: rate => { this.adaptWindow(rate) },
      held: limit => { this.deps.log.info({ stage: this.config.stage, workers: limit.workers, capacityBefore: limit.before, capacityAfter: limit.after, holdMs: limit.holdMs }, 'task pool held: the workers last added did not raise its throughput') }
    })
  }

  /** Tasks in flight per worker now. */
  get currentWindow (): number {
    return this.window
  }

  get queued (): number {
    return this.queue.size + this.suspects.size
  }

  /** How long it has held no worker and nothing queued (0: it holds some now), as of its last sizing tick or
   * task; Tasks retires a pool idle long enough, unless it keeps a floor of workers. */
  idleFor (now: number): number {
    return this.holding ? 0 : now - this.activeAt
  }

  /** A worker up or starting, or a task queued. */
  private get holding (): boolean {
    return this.workers.size > 0 || this.starting > 0 || this.queued > 0
  }

  /** Workers up, and being started. */
  size (): { workers: number, starting: number } {
    return { workers: this.workers.size, starting: this.starting }
  }

  enqueue (task: Task): void {
    this.activeAt = Date.now()
    this.sizer.arrived()
    this.queue.push(task)
    this.ensureWorker()
    this.pump()
  }

  /** Work waits and no worker is up or coming (scaled to zero, or the last one died): one now, not at the next sizing tick. */
  private ensureWorker (): void {
    if (this.closed || this.queued === 0 || this.starting > 0) return
    // or every one runs a long task (a suspect alone included): one more, within maxWorkers
    const live = liveIfAllStuck(this.workers, performance.now())
    if (live != null && live < Math.max(1, this.config.maxWorkers)) void this.addWorker()
  }

  /** Cancel or time out: a queued task ends at once; a dispatched one has its signal aborted (with `error`, the task's end). */
  end (task: Task, status: 'cancelled' | 'timeout', reason: string, error: Error = status === 'timeout' ? new TaskTimeoutError(task.id, task.timeoutMs ?? 0) : new TaskCancelledError(task.id, reason)): void {
    if (task.final) return
    const waiting = task.status === 'queued'
    task.mark(status, toWireError(error))
    // it waits in the queue no longer (see FairQueue.left)
    if (waiting && !this.suspects.delete(task)) this.queue.left()
    for (const worker of this.workers) {
      const attempt = worker.inFlight.get(task)
      if (attempt == null) continue
      cancelItem(worker.handle, attempt, error)
      // the task ignores its signal: its worker is killed, and replaced if there is work
      const grace = setTimeout(() => {
        if (!worker.inFlight.has(task) || worker.killing) return
        worker.killing = true
        this.deps.log.warn({ task: task.id, worker: worker.handle.id, graceMs: this.config.cancelGraceMs }, `task ${status === 'timeout' ? 'timed out' : 'cancelled'} but kept running: killing its worker`)
        void worker.handle.kill()
      }, this.config.cancelGraceMs)
      grace.unref()
      return
    }
  }

  start (): void {
    this.sizer.start()
  }

  /** Resizing bounds and worker resources of this module's pool (`tasks.configure`): the next sizing tick and the next spawn use them. */
  reconfigure (settings: PoolSettings): void {
    this.config.minWorkers = settings.minWorkers ?? this.config.minWorkers
    this.config.maxWorkers = settings.maxWorkers ?? this.config.maxWorkers
    if (settings.resources != null) this.config.resources = { cpu: settings.resources.cpu ?? this.config.resources.cpu, memoryMb: settings.resources.memoryMb ?? this.config.resources.memoryMb }
    if (settings.window != null) {
      this.config.window = settings.window
      this.window = settings.window
    }
    this.sizer.setBounds(this.config.minWorkers, this.config.maxWorkers)
  }

  /** Stops sizing and kills every worker (graceful: teardown runs); queued tasks stay queued. */
  async stop (): Promise<void> {
    this.closed = true
    this.sizer.stop()
    this.abort.abort()
    await Promise.allSettled([...this.workers].map(async w => await w.handle.kill({ graceful: true })))
  }

  private pump (): void {
    // suspects first, each alone on an idle worker; the queue waits behind them, so workers drain for them
    for (const task of this.suspects) {
      const idle = this.roomiest(1)
      if (idle == null) return
      this.suspects.delete(task)
      idle.exclusive = true
      this.dispatch(idle, task)
    }
    while (this.queue.size > 0) {
      const worker = this.roomiest(this.window)
      if (worker == null) return
      const task = this.queue.shift()
      if (task == null) return
      this.dispatch(worker, task)
    }
  }

  /** The worker with the fewest tasks in flight, if it has room for `window` (an idle one ends the search; see long-task.ts). */
  private roomiest (window: number): PoolWorker | undefined {
    let best: PoolWorker | undefined
    const now = performance.now()
    for (const w of this.workers) {
      if (w.killing || w.gone || w.exclusive === true || w.inFlight.size >= windowOf(w, window) || stuck(w, now)) continue
      if (best == null || w.inFlight.size < best.inFlight.size) best = w
      if (best.inFlight.size === 0) break
    }
    return best
  }

  private adaptWindow (perWorkerRate: number): void {
    const next = adaptedWindow(this.window, perWorkerRate, { min: this.config.window, max: Math.max(MAX_WINDOW, this.config.window), holdMs: WINDOW_HOLD_MS })
    if (next === this.window) return
    const grew = next > this.window
    this.window = next
    if (grew) this.pump()
  }

  private dispatch (worker: PoolWorker, task: Task): void {
    const attempt = new Attempt(this, worker, task)
    worker.inFlight.set(task, attempt)
    if (worker.busySince == null) worker.busySince = performance.now()
    task.agent = worker.handle.agentId
    task.mark('dispatched')
    if (task.timeoutMs != null) {
      attempt.timeout = setTimeout(() => { this.end(task, 'timeout', 'timed out') }, task.timeoutMs)
      attempt.timeout.unref()
    }
    submitItem(worker.handle, task.input, attempt, true)
  }

  /** The attempt's task started: the module's setup works on its worker (whatever other agents' setups do). */
  attemptStarted (): void { this.setupFailures.reset() }

  /** The attempt's worker returned a value. */
  attemptDone (attempt: Attempt, value: unknown): void {
    const task = attempt.task
    try {
      this.sizer.completed()
      this.setupFailures.reset()
      // a quick task's start is not reported (see ItemRunner): its result says it ran
      if (task.status === 'dispatched') task.mark('running')
      task.complete(value)
    } finally {
      this.settled(attempt)
    }
  }

  /** The attempt failed: the task threw, was cancelled, or its worker was lost. */
  attemptFailed (attempt: Attempt, err: Error): void {
    try {
      this.failed(attempt, err)
    } finally {
      this.settled(attempt)
    }
  }

  /** The task's attempt on its worker is over (either way): its room goes to the next task. */
  private settled (attempt: Attempt): void {
    const { worker, task, timeout } = attempt
    clearTimeout(timeout)
    runningEnded(worker, attempt)
    worker.inFlight.delete(task)
    if (worker.inFlight.size === 0) worker.exclusive = false
    if (worker.inFlight.size === 0 && worker.busySince != null) {
      worker.busyMs += performance.now() - worker.busySince
      worker.busySince = undefined
    }
    this.pump()
  }

  private failed (attempt: Attempt, err: Error): void {
    const { worker, task } = attempt
    if (task.final) return
    const lost = workerGone(err) != null
    // once per worker, not one we killed (its other tasks fail the same way; an agent's other workers are marked gone just below)
    if (lost && !worker.gone && !worker.killing) this.setupFailures.workerLost(err)
    if (lost && !worker.gone && !worker.killing) this.lostLog.warn(this.config.stage, `worker lost ${String((err as { code?: unknown }).code ?? err.name)}`, { stage: this.config.stage, worker: worker.handle.id, agent: worker.handle.agentId, tasks: worker.inFlight.size, err }, `task worker lost (${err.message}): its tasks are tried again, or fail once out of retries`)
    if (lost) worker.gone = true
    // the agent is gone: so are its other workers here, whose streams may not have closed yet
    if (err instanceof AgentLostError) for (const w of this.workers) if (w.handle.agentId === worker.handle.agentId) w.gone = true
    // taken back from behind a long task: unstarted, it ran nothing, so whatever ended its worker nothing is
    // counted or excused; started as the recall came, only the recall's cancellation was for the pool's sake
    if (endedByRecall(attempt, err)) {
      this.requeueRecalled(task)
      return
    }
    if (!lost) {
      this.setupFailures.reset()
      this.sizer.completed()
      if (task.status === 'dispatched') task.mark('running')
      task.mark('failed', toWireError(err))
      return
    }
    // the module's own setup, not a loss to excuse or retry (it is counted, as lossOf says, until then)
    if (this.setupFailures.tooMany(err)) {
      failWaiting(task, err, this.queue, this.suspects)
      return
    }
    if (workerGone(err) === 'crashed') worker.heldAtCrash ??= heldAtCrash(worker)
    const loss = lossOf(err, worker.killing, worker.heldAtCrash)
    if (loss === 'shared-crash') this.isolated.add(task)
    // excused a few times at most (this pool's own kills aside: other tasks' ends bound those), then counted:
    // a task that SIGTERMs its worker or its agent looks stopped, and would run (and stop agents) for ever
    const excused = loss !== 'counted' && (worker.killing || ++task.excusedLosses <= EXCUSED_LOSSES)
    if (!excused) task.countedLosses++
    if (excused || task.countedLosses <= task.maxRetries) {
      task.mark('queued')
      if (this.isolated.has(task)) this.suspects.add(task)
      else this.queue.push(task)
      this.ensureWorker()
      return
    }
    // a setup that threw is the module's own failure, told as the tooMany case tells it (its file and line),
    // not as a lost worker: with few retries (maxRetries 0) the first setup failure ends the task here
    task.mark('failed', toWireError(err instanceof StageSetupError ? err : new TaskLostError(task.id, task.attempts, { cause: err })))
  }

  private async addWorker (): Promise<void> {
    if (this.closed) return
    this.starting++
    let handle: WorkerHandle
    try {
      handle = await this.deps.spawn({ stage: this.config.stage, module: this.config.module, resources: this.config.resources, concurrency: 1, foreign: this.config.foreign }, { signal: this.abort.signal })
    } catch (err) {
      this.starting--
      // no agent has room (or none is up): tasks stay queued, the next sizing tick tries again
      if (Date.now() - this.lastSpawnError > 30_000) {
        this.lastSpawnError = Date.now()
        this.deps.log.warn({ err, stage: this.config.stage, queued: this.queued }, 'no worker for this task module yet: tasks wait')
      }
      return
    }
    this.starting--
    if (this.closed) {
      void handle.kill()
      return
    }
    const worker: PoolWorker = { handle, inFlight: new Map(), killing: false, gone: false, busyMs: 0 }
    this.workers.add(worker)
    void handle.exited.then(() => {
      this.workers.delete(worker)
      // its tasks are failed (and requeued) by their own promises; work left needs a worker
      this.ensureWorker()
    })
    this.pump()
  }

  /** Drains idle workers only: a busy one is never killed to shrink the pool. */
  private drain (count: number): void {
    let left = count
    for (const worker of this.workers) {
      if (left === 0) return
      if (worker.inFlight.size > 0 || worker.killing) continue
      worker.killing = true
      left--
      void worker.handle.kill({ graceful: true })
    }
  }

  /** Taken back from behind a long task: not a loss (neither counted nor excused), nor a suspect. */
  private requeueRecalled (task: Task): void {
    if (task.final) return
    // unstarted, its attempt is not counted; one that started as the recall came ran, and counts in attempts
    if (task.status === 'dispatched') task.recalled()
    else task.mark('queued')
    if (this.isolated.has(task)) this.suspects.add(task)
    else this.queue.push(task)
    this.ensureWorker()
  }

  private sample (): { workers: number, starting: number, queued: number, busyMs: number, capacityLimit: number } {
    recallWaiting(this.workers, performance.now())
    this.ensureWorker() // every worker stuck, work queued (window 1: none recalled): the sizer, measuring no rate, adds none
    if (this.holding) this.activeAt = Date.now()
    let busyMs = 0
    const now = performance.now()
    for (const w of this.workers) {
      busyMs += w.busyMs + (w.busySince == null ? 0 : now - w.busySince)
      w.busyMs = 0
      if (w.busySince != null) w.busySince = now
    }
    const live = [...this.workers].filter(w => !w.killing && !w.gone).length
    return { workers: live, starting: this.starting, queued: this.queued, busyMs, capacityLimit: this.deps.capacity(this.config.resources, this.config.maxWorkers) }
  }
}
