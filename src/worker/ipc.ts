import type { WireError } from '../wire/wire-error.ts'

/** One item's outcome. */
export type WorkerResult = { id: number, value: unknown } | { id: number, error: WireError }

/** What a task item says before its outcome: it started; a `ctx.progress` value; a `ctx.log` line. Sent in order with results. */
export type WorkerNotice = { id: number, notice: 'started' } | { id: number, notice: 'progress', value: unknown } | { id: number, notice: 'log', line: string }

export type WorkerOutput = WorkerResult | WorkerNotice

/** An item for the worker; a task gets its own `ctx.signal` and `ctx.progress`. */
export interface WorkerItem {
  id: number
  item: unknown
  task?: true
}

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
  /** No kernel death signal was set up (no setpriv): the worker watches its parent from a thread. */
  watchdog: boolean
}

/** Agent -> worker host (child_process IPC). */
export type ToWorker =
  | { type: 'start', start: WorkerStart }
  | { type: 'batch', items: WorkerItem[] }
  /** Abort these tasks' signals (cancelled or timed out at the owner). */
  | { type: 'cancel', ids: number[] }
  | { type: 'stop' }

/** Worker host -> agent. */
export type FromWorker =
  /** The host is loaded and waits for its start message (a host the agent started ahead of need). */
  | { type: 'hosted' }
  /** The stage's `setup` is done: items may come. */
  | { type: 'ready' }
  | { type: 'results', results: WorkerOutput[] }
  | { type: 'fatal', error: WireError }

/** How a worker ended, as reported to whoever spawned it. */
export interface WorkerExit {
  code: number | null
  signal: string | null
  /** The last error: setup throwing, a memory limit, an uncaught exception. Its code may be the stage's own choice. */
  error?: WireError
  /**
   * Set by the agent, never from the worker's own reports: the agent stopped it (itself stopping, or a
   * kill by the worker's owner or an admin), or it died of a stop request the agent did not send (SIGTERM,
   * SIGINT, SIGHUP: local-worker.ts), so the items it held are not suspects of a crash.
   */
  stopped?: true
  /**
   * Set by whoever ran the worker (its agent), never from the worker's own reports: it ended before its
   * stage's `setup` was done (setup threw or exited, the module did not load), so the items sent to it
   * never ran and are not suspects.
   */
  setupFailed?: true
  /**
   * Set by the owner's handle, never from the wire: it lost the worker's agent (or its stream). The
   * items it held are not suspects. `error.code` cannot say so: user code may throw any code.
   */
  agentLost?: true
}

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
  /** A line the task passed to `ctx.log`. */
  onLog?: (line: string) => void
}
