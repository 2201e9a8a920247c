import type { AbortOptions, Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { requestJson } from '../transport/json-stream.ts'
import { RemoteError } from '../wire/wire-error.ts'
import { MAX_REPLY_BYTES, MAX_REQUEST_BYTES, MAX_WAIT_MS, TASKS_PROTOCOL, tasksReplySchema } from './protocol-schema.ts'
import type { TasksAnswer, TasksRequest } from './protocol-schema.ts'
import { isFinal } from './types.ts'

/** One tasks request to the node at `target`; a refusal or failure rethrows the node's error (its code kept). */
export async function requestTasks (libp2p: Libp2p, target: Multiaddr, request: TasksRequest, options: AbortOptions = {}): Promise<TasksAnswer> {
  const reply = await requestJson(libp2p, target, TASKS_PROTOCOL, request, tasksReplySchema, { ...options, maxBytes: Math.max(MAX_REPLY_BYTES, MAX_REQUEST_BYTES) })
  if (!reply.ok) throw new RemoteError(reply.error)
  return reply
}

/**
 * Waits for task `id` to be final by asking `wait` (each request bounded by
 * MAX_WAIT_MS) until it is, or `signal` aborts; returns the final answer.
 */
export async function waitForTask (libp2p: Libp2p, target: Multiaddr, id: string, options: { signal: AbortSignal }): Promise<TasksAnswer & { task: NonNullable<TasksAnswer['task']> }> {
  while (true) {
    options.signal.throwIfAborted()
    const answer = await requestTasks(libp2p, target, { op: 'wait', id, timeoutMs: MAX_WAIT_MS }, options)
    if (answer.task == null) throw new RemoteError({ name: 'ProtocolError', message: 'the node answered a wait without the task', code: 'ERR_PROTOCOL' })
    if (isFinal(answer.task.status)) return { ...answer, task: answer.task }
  }
}
