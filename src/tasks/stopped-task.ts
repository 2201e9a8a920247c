import { ERR_NODE_STOPPED, NodeStoppedError } from '../errors.ts'
import type { TaskStatus } from './types.ts'
import type { WireError } from '../wire/wire-error.ts'

/**
 * What a durable owner's graceful stop ends its open tasks with, in its own process only: its journal
 * holds them unfinished and the next start resumes them, so whoever waits is told they have not ended.
 */
export function stoppedError (id: string): NodeStoppedError {
  return new NodeStoppedError(`the owner is stopping: task ${id} is not ended; it resumes when its owner starts again`, { retryable: true })
}

/** `task` was ended so (see stoppedError): its status here is not its outcome. */
export function endedByStop (task: { status: TaskStatus, error?: WireError }): boolean {
  return task.status === 'cancelled' && task.error?.code === ERR_NODE_STOPPED
}
