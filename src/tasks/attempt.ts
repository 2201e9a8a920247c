import type { ItemListener, WorkerHandle } from '../owner/worker-handle.ts'
import type { Task } from './task.ts'

/** Where an attempt's outcome goes: its task pool (an interface here, so this file imports no pool). */
export interface AttemptOutcomes {
  attemptStarted: (attempt: Attempt) => void
  attemptDone: (attempt: Attempt, value: unknown) => void
  attemptFailed: (attempt: Attempt, err: Error) => void
}

/** One of a task pool's workers, as the pool sees it. */
export interface PoolWorker {
  handle: WorkerHandle
  inFlight: Map<Task, Attempt>
  /** Killed by this pool (a task ignored its abort): what was in flight goes back to the queue. */
  killing: boolean
  /** Lost (it exited, or its agent did): takes nothing more, even before its `exited` callback runs. */
  gone: boolean
  /** Running a suspect alone (see loss.ts): it takes nothing else meanwhile. */
  exclusive?: boolean
  /** Tasks it held when it crashed, those taken back unstarted aside (its tasks' failures come one by one, each settling its own). */
  heldAtCrash?: number
  busySince?: number
  busyMs: number
  /** The attempt it runs now (its start notice came; concurrency is 1), and since when. */
  running?: Attempt
  runningSince?: number
  /** Its last task ran longer than STUCK_AFTER_MS: it is sent one task at a time until a quicker one. */
  slow?: boolean
}

/**
 * One attempt of a task on a worker: what the worker reports goes to the task,
 * its outcome to the pool. One object per dispatch, in place of an abort
 * controller, a promise and five closures (each showed in the task path's profile).
 */
export class Attempt implements ItemListener {
  readonly pool: AttemptOutcomes
  readonly worker: PoolWorker
  readonly task: Task
  timeout?: NodeJS.Timeout
  /** Taken back from behind a long task (see recallWaiting, long-task.ts): its end requeues it, no loss or attempt counted. */
  recalled = false

  constructor (pool: AttemptOutcomes, worker: PoolWorker, task: Task) {
    this.pool = pool
    this.worker = worker
    this.task = task
  }

  started (): void {
    this.worker.running = this
    this.worker.runningSince = performance.now()
    this.task.mark('running')
    this.pool.attemptStarted(this)
  }
  progress (value: unknown): void { this.task.progress(value) }
  log (line: string): void { this.task.log(line) }
  done (value: unknown): void { this.pool.attemptDone(this, value) }
  failed (err: Error): void { this.pool.attemptFailed(this, err) }
}
