import { setTimeout as sleep } from 'node:timers/promises'
import type { AbortOptions, Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { requestJson } from '../transport/json-stream.ts'
import { RemoteError } from '../wire/wire-error.ts'
import { ERR_NODE_STOPPED, GridError, NodeStoppedError } from '../errors.ts'
import { MAX_REPLY_BYTES, MAX_REQUEST_BYTES, MAX_WAIT_MS, TASKS_PROTOCOL, tasksReplySchema } from './protocol-schema.ts'
import type { TasksAnswer, TasksRequest } from './protocol-schema.ts'
import { isFinal } from './types.ts'

/** Pauses between asks while a stopped owner is away: from the first, doubling up to the last. */
const OWNER_RETRY_FIRST_MS = 250
const OWNER_RETRY_MAX_MS = 5000

/** One tasks request to the node at `target`; a refusal or failure rethrows the node's error (its code kept). */
export async function requestTasks (libp2p: Libp2p, target: Multiaddr, request: TasksRequest, options: AbortOptions = {}): Promise<TasksAnswer> {
  const reply = await requestJson(libp2p, target, TASKS_PROTOCOL, request, tasksReplySchema, { ...options, maxBytes: Math.max(MAX_REPLY_BYTES, MAX_REQUEST_BYTES) })
  if (!reply.ok) throw new RemoteError(reply.error)
  return reply
}

export interface WaitForTaskOptions {
  signal: AbortSignal
  /**
   * How long to go on asking after the owner answered ERR_NODE_STOPPED (it stops gracefully: its journal
   * resumes the task when it starts again) without reaching it again; 0 (the default): throw that answer at once.
   */
  ownerReturnMs?: number
  /** Called when the owner answers ERR_NODE_STOPPED and the wait goes on asking (once per absence). */
  onOwnerStopped?: () => void
  /** Called when the owner answers a wait again after onOwnerStopped (it is back; a wait it holds is answered only when it ends). */
  onOwnerReturned?: () => void
}

/**
 * Waits for task `id` to be final by asking `wait` (each request bounded by
 * MAX_WAIT_MS) until it is, or `signal` aborts; returns the final answer.
 * Across a graceful restart of the owner (`ownerReturnMs`), it asks again, with
 * backoff, while the owner stops, is down and starts; past that bound it throws
 * NodeStoppedError (ERR_NODE_STOPPED, retryable), its message and `cause` the
 * last attempt's failure (what kept the owner out of reach: still stopping, down,
 * or a failure that will not pass, such as a refused certificate).
 */
export async function waitForTask (libp2p: Libp2p, target: Multiaddr, id: string, options: WaitForTaskOptions): Promise<TasksAnswer & { task: NonNullable<TasksAnswer['task']> }> {
  const { signal, ownerReturnMs = 0 } = options
  /** When the owner answered ERR_NODE_STOPPED, while it has not answered since. */
  let stoppedAt: number | undefined
  let pauseMs = OWNER_RETRY_FIRST_MS
  while (true) {
    signal.throwIfAborted()
    let answer: TasksAnswer
    try {
      answer = await requestTasks(libp2p, target, { op: 'wait', id, timeoutMs: MAX_WAIT_MS }, { signal })
    } catch (err) {
      if (signal.aborted || ownerReturnMs <= 0) throw err
      if (isOwnerStopped(err)) {
        if (stoppedAt == null) options.onOwnerStopped?.()
        stoppedAt ??= Date.now()
      } else if (stoppedAt == null || !mayBeRestarting(err)) {
        throw err
      }
      const left = ownerReturnMs - (Date.now() - stoppedAt)
      // the last attempt's failure told: it may be one that will not pass (a certificate refused meanwhile)
      if (left <= 0) throw ownerNotBack(id, ownerReturnMs, err)
      // aborted meanwhile: the signal's reason, as at the top of the loop (not the timer's AbortError)
      await sleep(Math.min(pauseMs, left), undefined, { signal }).catch((err: unknown) => { signal.throwIfAborted(); throw err })
      pauseMs = Math.min(2 * pauseMs, OWNER_RETRY_MAX_MS)
      continue
    }
    if (stoppedAt != null) options.onOwnerReturned?.()
    stoppedAt = undefined
    pauseMs = OWNER_RETRY_FIRST_MS
    if (answer.task == null) throw new RemoteError({ name: 'ProtocolError', message: 'the node answered a wait without the task', code: 'ERR_PROTOCOL' })
    if (isFinal(answer.task.status)) return { ...answer, task: answer.task }
  }
}

/** Past `ownerReturnMs`: the task has not ended (its owner's journal resumes it), and what the last ask met. */
function ownerNotBack (id: string, ownerReturnMs: number, last: unknown): NodeStoppedError {
  const lastText = last instanceof Error ? last.message : String(last)
  return new NodeStoppedError(`the owner of task ${id} stopped and was not reached again within ${ownerReturnMs} ms (last attempt: ${lastText})`, { retryable: true, cause: last })
}

function isOwnerStopped (err: unknown): err is RemoteError {
  return err instanceof RemoteError && err.code === ERR_NODE_STOPPED
}

/**
 * After the owner's ERR_NODE_STOPPED, what an owner stopping, down or starting causes: a connection refused
 * or reset, a protocol not served yet (transport errors, not ours), or a member relaying the wait that could
 * not reach it (ERR_PEER_UNREACHABLE: retryable, as anything the node says may pass).
 */
function mayBeRestarting (err: unknown): boolean {
  return err instanceof GridError ? err.retryable : true
}
