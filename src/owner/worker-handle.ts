import type { ProcessOptions, WorkerExit } from '../worker/ipc.ts'

export type { ProcessOptions }


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
