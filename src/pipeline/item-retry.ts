import { AgentLostError, PoisonItemError, WorkerExitedError, WorkerStoppedError } from '../errors.ts'
import { workerExitedError } from '../wire/wire-error.ts'
import type { WorkerHandle } from '../owner/worker-handle.ts'
import type { WorkerExit } from '../worker/ipc.ts'
import type { Envelope } from './types.ts'

/**
 * What an item's error says of the worker that ran it, told by the error's class, which only the worker
 * handles make: a stage's own error arrives as a RemoteError whatever code it carries (user code may pick
 * ERR_AGENT_LOST) and is the item's own failure; it must not retire a healthy worker.
 * `crashed`: the worker process died (its items in flight are suspects). `lost`: its agent went, or
 * stopped it (the agent stopping, an owner's or admin's kill): not its items' fault.
 */
export function workerGone (err: Error): 'crashed' | 'lost' | undefined {
  if (err instanceof WorkerExitedError) return 'crashed'
  if (err instanceof AgentLostError || err instanceof WorkerStoppedError) return 'lost'
  return undefined
}

/** What the items a handle left unsettled when it ended failed with: by its own flag, never the exit error's code (a stage's uncaught error may carry any). */
export function exitError (handle: Pick<WorkerHandle, 'id' | 'agentId'>, exit: WorkerExit): Error {
  if (exit.agentLost === true) return new AgentLostError(handle.agentId, exit.error?.message ?? 'its stream closed')
  return workerExitedError(handle.id, exit)
}

/**
 * An item's fate after `err`: undefined to run it again (before new work), else the error it is reported
 * failed with. A lost worker's items run again without using an attempt; after a crash each runs alone
 * from then on, so only the culprit can crash a worker a second time (the innocents then succeed alone),
 * and is failed as a poison item; the item's own error uses an attempt, up to `maxAttempts`.
 */
export function afterError (envelope: Envelope, err: Error, maxAttempts: number): Error | undefined {
  const gone = workerGone(err)
  if (gone === 'crashed') {
    envelope.crashes++
    envelope.isolate = true
  }
  if (gone == null) return envelope.attempts < maxAttempts ? undefined : err
  if (envelope.crashes >= 2) return new PoisonItemError(err)
  envelope.attempts--
  return undefined
}
