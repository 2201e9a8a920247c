import type { ProcessOptions } from '../worker/ipc.ts'

/**
 * Who hears about one item sent to a worker: a task's notices, then the
 * item's outcome, once. One object per item, called directly: the task path
 * (owner and agent) makes no promise, closure or abort signal per item.
 */
export interface ItemListener {
  started: () => void
  progress: (value: unknown) => void
  log: (line: string) => void
  done: (value: unknown) => void
  failed: (err: Error) => void
}

/** The promise API (`process`) over a listener: the item's outcome settles the promise. */
export class PromisedItem implements ItemListener {
  readonly promise: Promise<unknown>
  /** Stops listening to the item's abort signal. */
  cleanup?: () => void
  private readonly options: ProcessOptions
  private resolve!: (value: unknown) => void
  private reject!: (err: Error) => void

  constructor (options: ProcessOptions) {
    this.options = options
    this.promise = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject })
  }

  started (): void { this.options.onStart?.() }
  progress (value: unknown): void { this.options.onProgress?.(value) }
  log (line: string): void { this.options.onLog?.(line) }
  done (value: unknown): void { this.cleanup?.(); this.resolve(value) }
  failed (err: Error): void { this.cleanup?.(); this.reject(err) }
}

/**
 * A task notice or outcome for a pending item: a notice calls its listener and
 * leaves it pending; an outcome settles it. Returns whether it was an outcome
 * for an item still pending.
 */
export function deliver (pending: Map<number, ItemListener>, id: number, output: { notice: 'started' } | { notice: 'progress', value: unknown } | { notice: 'log', line: string } | { error: Error } | { value?: unknown }): boolean {
  const p = pending.get(id)
  if (p == null) return false
  if ('notice' in output) {
    if (output.notice === 'started') p.started()
    else if (output.notice === 'progress') p.progress(output.value)
    else p.log(output.line)
    return false
  }
  pending.delete(id)
  if ('error' in output) p.failed(output.error)
  else p.done(output.value)
  return true
}

/** The pending item that `listener` hears for, if any (a cancel is rare: a scan costs less than an index per item). */
export function pendingNumber (pending: Map<number, ItemListener>, listener: ItemListener): number | undefined {
  for (const [n, l] of pending) if (l === listener) return n
  return undefined
}
