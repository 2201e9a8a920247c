import type { Task } from './task.ts'

/**
 * Resolves once `task` is final, `timeoutMs` has passed or `signal` aborts, whichever comes first (never
 * rejects), and leaves no listener on the task or the signal: a caller waiting in a loop with a short
 * timeout on a long task, or a client that goes away, must not pile them up until the task ends.
 */
export async function settledWithin (task: Task, until: { timeoutMs?: number, signal?: AbortSignal }): Promise<void> {
  const { timeoutMs, signal } = until
  if (task.final || signal?.aborted === true) return
  await new Promise<void>(resolve => {
    let timer: NodeJS.Timeout | undefined
    const done = (): void => {
      clearTimeout(timer)
      off()
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const off = task.whenSettled(done)
    if (timeoutMs != null) timer = setTimeout(done, timeoutMs)
    signal?.addEventListener('abort', done, { once: true })
  })
}
