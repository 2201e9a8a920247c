import { AgentLostError, PoisonItemError, StageSetupError } from '../errors.ts'
import { workerExitedError } from '../wire/wire-error.ts'
import { EXCUSED_LOSSES, workerGone } from '../owner/worker-handle.ts'
import type { WorkerHandle } from '../owner/worker-handle.ts'
import type { WorkerExit } from '../worker/ipc.ts'
import type { Envelope } from './types.ts'

/**
 * Workers in a row that end in their setup, with no item completed in between, before the stage fails its
 * run with the setup error: one is a flaky start, three is the stage's own code.
 */
export const SETUP_FAILURES_TO_FAIL = 3

/** What the items a handle left unsettled when it ended failed with: by its own flag, never the exit error's code (a stage's uncaught error may carry any). */
export function exitError (handle: Pick<WorkerHandle, 'id' | 'agentId'>, exit: WorkerExit): Error {
  if (exit.agentLost === true) return new AgentLostError(handle.agentId, exit.error?.message ?? 'its stream closed')
  return workerExitedError(handle.id, exit)
}

/**
 * An item's fate after `err`: undefined to run it again (before new work), else the error it is reported
 * failed with. A lost worker's items run again without using an attempt; after a crash each runs alone
 * from then on, so only the culprit can crash a worker a second time (the innocents then succeed alone),
 * and is failed as a poison item; the item's own error uses an attempt, up to `maxAttempts`. Past
 * EXCUSED_LOSSES lost workers, a lost worker counts as a crash.
 */
export function afterError (envelope: Envelope, err: Error, maxAttempts: number): Error | undefined {
  let gone = workerGone(err)
  // a few losses excused at most, then each is a crash: an item that SIGTERMs its worker or its agent looks
  // stopped, and would run (and stop agents) for ever; workers that fail setup have their own bound (above)
  if (gone === 'lost' && !(err instanceof StageSetupError)) {
    envelope.excused = (envelope.excused ?? 0) + 1
    if (envelope.excused > EXCUSED_LOSSES) gone = 'crashed'
  }
  if (gone === 'crashed') {
    envelope.crashes++
    envelope.isolate = true
  }
  if (gone == null) return envelope.attempts < maxAttempts ? undefined : err
  if (envelope.crashes >= 2) return new PoisonItemError(err)
  envelope.attempts--
  return undefined
}
