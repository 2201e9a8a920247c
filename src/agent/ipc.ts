import type { WireError } from './wire-error.ts'

/** Agent -> worker host (child_process IPC). */
export type ToWorker =
  | { type: 'process', id: number, item: unknown }
  | { type: 'stop' }

/** Worker host -> agent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'result', id: number, value: unknown }
  | { type: 'error', id: number, error: WireError }
  | { type: 'fatal', error: WireError }

/** How a worker ended, as reported to whoever spawned it. */
export interface WorkerExit {
  code: number | null
  signal: string | null
  /** The last error: setup throwing, a memory limit, an uncaught exception. */
  error?: WireError
}
