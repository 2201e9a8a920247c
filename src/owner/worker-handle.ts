import type { WorkerExit } from '../worker/ipc.ts'

/** How one item is run: a task item gets its own abort signal and progress channel in the worker. */
export interface ProcessOptions {
  /** Aborting it before the item is sent drops it; after, the worker's `ctx.signal` for it is aborted (tasks). */
  signal?: AbortSignal
  /** A task, not a stage item: the worker gives it `ctx.signal` and `ctx.progress`, and reports its start. */
  task?: boolean
  /** The worker started the task (it may have waited there behind others). */
  onStart?: () => void
  /** A value the task passed to `ctx.progress`. */
  onProgress?: (value: unknown) => void
}

/** A worker, wherever it landed (this node or a remote agent). */
export interface WorkerHandle {
  readonly id: string
  /** Peer id of the agent running it. */
  readonly agentId: string
  readonly pid: number
  readonly stage: string
  /** One item in, its result out; a remote error is rethrown with its name and stack. */
  process: (item: unknown, options?: ProcessOptions) => Promise<unknown>
  /** Graceful: teardown runs, then SIGKILL after a timeout. */
  kill: (options?: { graceful?: boolean }) => Promise<WorkerExit>
  /** Resolves once, however the worker ends (including its agent being lost). */
  readonly exited: Promise<WorkerExit>
}
