import { StageSetupError } from '../errors.ts'
import { SETUP_FAILURES_TO_FAIL } from '../pipeline/item-retry.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { FairQueue } from './queue.ts'
import type { Task } from './task.ts'

/**
 * A task pool's workers in a row that ended in their setup, none having shown since that the setup works:
 * SETUP_FAILURES_TO_FAIL of them is the module's own code, and fails its waiting tasks at once (each would
 * otherwise be retried on new workers: a thousand tasks forked a thousand).
 */
export class SetupFailures {
  private count = 0

  /** The module's setup worked: a task started, completed or threw (one bad agent's setups must not fail tasks running fine elsewhere). */
  reset (): void {
    this.count = 0
  }

  /** A worker was lost (counted once per worker, not one its pool killed). */
  workerLost (err: Error): void {
    if (err instanceof StageSetupError) this.count++
  }

  /** This loss ends the module's tasks: a setup failure, enough in a row. */
  tooMany (err: Error): err is StageSetupError {
    return err instanceof StageSetupError && this.count >= SETUP_FAILURES_TO_FAIL
  }
}

/** The task, every one queued and the suspects fail with the setup error now; a later task tries one more worker. */
export function failWaiting (task: Task, err: StageSetupError, queue: FairQueue, suspects: Set<Task>): void {
  const error = toWireError(err)
  task.mark('failed', error)
  for (let queued = queue.shift(); queued != null; queued = queue.shift()) queued.mark('failed', error)
  for (const suspect of suspects) suspect.mark('failed', error)
  suspects.clear()
}
