import type { WireError } from '../wire/wire-error.ts'

/** One item's outcome. */
export type WorkerResult = { id: number, value: unknown } | { id: number, error: WireError }

/** Agent -> worker host (child_process IPC). */
export type ToWorker =
  | { type: 'batch', items: Array<{ id: number, item: unknown }> }
  | { type: 'stop' }

/** Worker host -> agent. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'results', results: WorkerResult[] }
  | { type: 'fatal', error: WireError }

/** How a worker ended, as reported to whoever spawned it. */
export interface WorkerExit {
  code: number | null
  signal: string | null
  /** The last error: setup throwing, a memory limit, an uncaught exception. */
  error?: WireError
}
