import type { ProcessOptions, WorkerExit } from '../worker/ipc.ts'
import type { ItemListener } from '../wire/pending-item.ts'
import { AgentLostError, WorkerExitedError } from '../errors.ts'
import { isWorkerExit } from '../wire/wire-error.ts'

export type { ProcessOptions, ItemListener }

/** A worker, wherever it landed (this node or a remote agent). */
export interface WorkerHandle {
  readonly id: string
  /** Peer id of the agent running it. */
  readonly agentId: string
  readonly pid: number
  readonly stage: string
  /** One item in, its result out; a remote error is rethrown with its name and stack. */
  process: (item: unknown, options?: ProcessOptions) => Promise<unknown>
  /** One item in, `listener` told its notices and outcome: no promise or signal per item (task pools). */
  submit?: (item: unknown, listener: ItemListener, task?: boolean) => void
  /** Cancels the item `listener` hears for: dropped if not sent yet, else its signal is aborted in the worker. */
  cancel?: (listener: ItemListener, reason: Error) => void
  /** Graceful: teardown runs, then SIGKILL after a timeout. */
  kill: (options?: { graceful?: boolean }) => Promise<WorkerExit>
  /** Resolves once, however the worker ends (including its agent being lost). */
  readonly exited: Promise<WorkerExit>
}

/** Abort controllers of items sent through `process` to a handle without `submit`. */
const controllers = new WeakMap<ItemListener, AbortController>()

/** `handle.submit`, or the same through `process` and an abort signal for a handle that has only that. */
export function submitItem (handle: WorkerHandle, item: unknown, listener: ItemListener, task: boolean): void {
  if (handle.submit != null) {
    handle.submit(item, listener, task)
    return
  }
  const controller = new AbortController()
  controllers.set(listener, controller)
  handle.process(item, { signal: controller.signal, task, onStart: () => { listener.started() }, onProgress: value => { listener.progress(value) }, onLog: line => { listener.log(line) } })
    .then(value => { listener.done(value) }, (err: Error) => { listener.failed(err) })
}

/** `handle.cancel`, or an abort of the signal `submitItem` gave `process`. */
export function cancelItem (handle: WorkerHandle, listener: ItemListener, reason: Error): void {
  if (handle.cancel != null) handle.cancel(listener, reason)
  else controllers.get(listener)?.abort(reason)
}

/**
 * Losses of a worker one item or task may be excused (run again with nothing counted: its worker stopped,
 * its agent left, a crash it shared) before further ones count like a crash: it cannot tell who sent a
 * SIGTERM, so a task or item that stops its own worker, or its agent, would otherwise run for ever.
 */
export const EXCUSED_LOSSES = 3

/**
 * What an item's error says of the worker that ran it, told by the error's class, which only the worker
 * handles make: a stage's own error arrives as a RemoteError whatever code it carries (user code may pick
 * ERR_AGENT_LOST) and is the item's own failure; it must not retire a healthy worker. Stages and task pools both ask it.
 * `crashed`: the worker process died (its items in flight are suspects). `lost`: its agent went, or
 * stopped it (the agent stopping, an owner's or admin's kill), or it never finished its setup: not its items' fault.
 */
export function workerGone (err: Error): 'crashed' | 'lost' | undefined {
  if (err instanceof WorkerExitedError) return 'crashed'
  if (err instanceof AgentLostError || isWorkerExit(err)) return 'lost'
  return undefined
}
