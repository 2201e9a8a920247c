import type { WireError } from '../wire/wire-error.ts'

/** One item's outcome. */
export type WorkerResult = { id: number, value: unknown } | { id: number, error: WireError }

/**
 * What a worker runs: the agent's first IPC message (Node queues it until the host
 * listens), never on the command line, which every user of the machine can read
 * (`ps`, /proc/<pid>/cmdline).
 */
export interface WorkerStart {
  workerId: string
  stage: string
  /** Absolute path of the stage module on this machine. */
  modulePath: string
  /** The spawn's own variables: added to the worker's environment before the stage module loads. */
  env: Record<string, string>
  concurrency: number
  /** The module is a requester's bundle: its bare imports resolve from these directories first. */
  shippedFrom?: string[]
}

/** Agent -> worker host (child_process IPC). */
export type ToWorker =
  | { type: 'start', start: WorkerStart }
  | { type: 'batch', items: Array<{ id: number, item: unknown }> }
  | { type: 'stop' }

/** Worker host -> agent. */
export type FromWorker =
  /** The stage's `setup` is done: items may come. */
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
