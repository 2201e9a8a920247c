import { workerGone } from '../owner/worker-handle.ts'
import { AgentLostError, WorkerStoppedError } from '../errors.ts'

/**
 * What a task's lost worker means for it (the pipelines' poison rule, for tasks):
 * - `not-its-doing`: its agent stopped the worker (WorkerStoppedError: a drain, the agent stopping, an
 *   owner's or admin's kill, a stop request from outside the grid), the agent left the grid (which stops
 *   its workers; its leave may come before their exits), or this pool killed it for another task's sake.
 *   Run again, no attempt counted.
 * - `shared-crash`: the worker crashed while it held other tasks too: whichever of them may have done it (or a
 *   kill from outside). Run again alone from now on (a suspect), no attempt counted: a task that crashes
 *   the workers it shares no longer uses up its neighbours' retries.
 * - `counted`: a crash while it ran alone, or its agent failed: an attempt, up to `maxRetries`.
 * Past EXCUSED_LOSSES excused ones (the pool's own kills aside), a task's losses are counted.
 */
export type Loss = 'not-its-doing' | 'shared-crash' | 'counted'

/** `killing`: this pool killed the worker; `heldAtCrash`: tasks the worker held when it crashed (undefined for no crash). */
export function lossOf (err: Error, killing: boolean, heldAtCrash: number | undefined): Loss {
  if (killing || err instanceof WorkerStoppedError || (err instanceof AgentLostError && err.left)) return 'not-its-doing'
  if (workerGone(err) === 'crashed' && heldAtCrash != null && heldAtCrash > 1) return 'shared-crash'
  return 'counted'
}
