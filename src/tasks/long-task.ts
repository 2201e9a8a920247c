import { cancelItem } from '../owner/worker-handle.ts'
import { ERR_TASK_CANCELLED, TaskCancelledError } from '../errors.ts'
import type { Attempt, PoolWorker } from './attempt.ts'

/**
 * A task running this long has the tasks waiting behind it in its worker taken back to the queue, and its
 * worker gets no more until it ends: one that hangs (no timeoutMs) held them there for good, whoever
 * submitted them, and the pool, seeing nothing queued, started no worker for them.
 */
export const STUCK_AFTER_MS = 1000

/** It runs a task that has run over STUCK_AFTER_MS (a suspect alone included): it takes nothing meanwhile. */
export function stuck (worker: PoolWorker, now: number): boolean {
  return worker.runningSince != null && now - worker.runningSince > STUCK_AFTER_MS
}

/** How many workers are up, if none (0) or every one runs a long task; undefined if one can take work. */
export function liveIfAllStuck (workers: Iterable<PoolWorker>, now: number): number | undefined {
  let live = 0
  for (const w of workers) {
    if (w.killing || w.gone) continue
    if (!stuck(w, now)) return undefined
    live++
  }
  return live
}

/** Tasks it may hold now: one at a time after a long task, so none waits behind its next (to be recalled). */
export function windowOf (worker: PoolWorker, window: number): number {
  return worker.slow === true ? 1 : window
}

/** Its attempt is over: if it was the one running, the worker is slow when that took over STUCK_AFTER_MS. */
export function runningEnded (worker: PoolWorker, attempt: Attempt): void {
  if (worker.running !== attempt) return
  worker.slow = performance.now() - (worker.runningSince ?? 0) > STUCK_AFTER_MS
  worker.running = worker.runningSince = undefined
}

/** Tasks waiting behind a long one in its worker are taken back: the worker ends them unstarted. */
export function recallWaiting (workers: Iterable<PoolWorker>, now: number): void {
  for (const worker of workers) {
    if (worker.gone || worker.killing || !stuck(worker, now)) continue
    for (const [task, attempt] of worker.inFlight) {
      if (task.status !== 'dispatched' || attempt.recalled) continue
      attempt.recalled = true
      cancelItem(worker.handle, attempt, new TaskCancelledError(task.id, 'recalled: it waited behind a long task'))
    }
  }
}

/** Taken back before it started: it ran nothing, so neither its end nor its worker's is its doing. */
export function takenBackUnstarted (attempt: Attempt): boolean {
  return attempt.recalled && attempt.task.status === 'dispatched'
}

/**
 * Its end is the recall's doing, to requeue: taken back unstarted, or started as the recall came and stopped by
 * its cancellation (TaskCancelledError, or an AbortError of what it awaited). Any other error is the task's own,
 * and final: a lost worker (a loss, counted or excused like every other), or its own throw (a maxRetries 0 task ran twice).
 */
export function endedByRecall (attempt: Attempt, err: Error): boolean {
  if (!attempt.recalled) return false
  return takenBackUnstarted(attempt) || (err as { code?: unknown }).code === ERR_TASK_CANCELLED || err.name === 'AbortError'
}

/** Tasks a crashed worker held that may have crashed it: not those it was giving back unstarted. */
export function heldAtCrash (worker: PoolWorker): number {
  let held = 0
  for (const attempt of worker.inFlight.values()) if (!takenBackUnstarted(attempt)) held++
  return held
}
