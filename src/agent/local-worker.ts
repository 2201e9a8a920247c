import type { ChildProcess } from 'node:child_process'
import type { FromWorker, ProcessOptions, ToWorker, WorkerExit, WorkerItem, WorkerOutput, WorkerStart } from '../worker/ipc.ts'
import { Batcher } from '../wire/batcher.ts'
import { deliver } from '../wire/pending-item.ts'
import type { PendingItem } from '../wire/pending-item.ts'
import { RemoteError, workerExitedError } from '../wire/wire-error.ts'
import { ProtocolError } from '../errors.ts'
import type { WireError } from '../wire/wire-error.ts'

export interface WorkerInfo {
  id: string
  stage: string
  pid: number
  resources: { cpu: number, memoryMb: number }
}

const DEFAULT_KILL_TIMEOUT_MS = 5000

type Pending = PendingItem

/** One worker child process on this agent: items in over IPC, results out, one exit. */
export class LocalWorker {
  readonly info: WorkerInfo
  readonly exited: Promise<WorkerExit>
  private readonly child: ChildProcess
  private readonly pending = new Map<number, Pending>()
  private readonly ready: Promise<void>
  private nextId = 0
  private readonly outgoing = new Batcher<WorkerItem>(items => { this.sendBatch(items) })
  private lastError?: WireError
  private exit?: WorkerExit

  /** `start`: what the child runs, its first IPC message. */
  constructor (child: ChildProcess, info: WorkerInfo, start: WorkerStart) {
    this.child = child
    this.info = info
    this.send({ type: 'start', start })
    let markReady: () => void = () => {}
    this.ready = new Promise(resolve => { markReady = resolve })
    child.on('message', (message: FromWorker) => {
      if (message.type === 'ready') markReady()
      else if (message.type === 'results') this.received(message.results)
      else if (message.type === 'fatal') this.lastError = message.error
    })
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, error: this.lastError }
        // the exit first, then the items' rejections (see RemoteWorker.end)
        resolve(this.exit)
        markReady()
        for (const p of this.pending.values()) { p.cleanup?.(); p.reject(workerExitedError(info.id, this.exit)) }
        this.pending.clear()
      })
    })
  }

  get alive (): boolean {
    return this.exit == null
  }

  /** Records why the worker is being killed (memory watchdog), reported in its exit. */
  noteError (error: WireError): void {
    this.lastError = error
  }

  /** One item in, its result out; a task (`options.task`) reports its start and progress, and `signal` cancels it. */
  async process (item: unknown, options: ProcessOptions = {}): Promise<unknown> {
    await this.ready
    if (this.exit != null) throw workerExitedError(this.info.id, this.exit)
    options.signal?.throwIfAborted()
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      const entry: Pending = { resolve, reject, onStart: options.onStart, onProgress: options.onProgress, onLog: options.onLog }
      this.pending.set(id, entry)
      this.outgoing.push(options.task === true ? { id, item, task: true } : { id, item })
      const signal = options.signal
      if (signal != null) {
        // the item may still sit in the batcher: it leaves first, so the cancel never overtakes it
        const onAbort = (): void => { this.outgoing.drain(); this.send({ type: 'cancel', ids: [id] }) }
        if (signal.aborted) onAbort()
        else {
          signal.addEventListener('abort', onAbort, { once: true })
          entry.cleanup = () => { signal.removeEventListener('abort', onAbort) }
        }
      }
    })
  }

  private received (outputs: WorkerOutput[]): void {
    for (const r of outputs) deliver(this.pending, r.id, 'error' in r ? { error: new RemoteError(r.error) } : r)
  }

  /** Graceful: teardown, then SIGKILL if it takes longer than `timeoutMs`. */
  async kill (options: { graceful?: boolean, timeoutMs?: number } = {}): Promise<WorkerExit> {
    if (this.exit != null) return this.exit
    if (options.graceful === true) {
      this.send({ type: 'stop' })
      const timer = setTimeout(() => this.child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_KILL_TIMEOUT_MS)
      const exit = await this.exited
      clearTimeout(timer)
      return exit
    }
    this.child.kill('SIGKILL')
    return await this.exited
  }

  private send (message: ToWorker): void {
    // the channel can close between the check and the write (the worker is exiting, and its exit reports
    // that): with a callback a failed send is not an unhandled 'error' event that takes the agent down
    if (this.child.connected) this.child.send(message, () => {})
  }

  /**
   * Items to the worker. An item the IPC serializer cannot take (a value nested past its stack: it throws
   * at once, in a timer, which took the agent down; found by npm run fuzz) fails alone: the batch is
   * sent again item by item, and that item's requester gets the error.
   */
  private sendBatch (items: WorkerItem[]): void {
    try {
      this.send({ type: 'batch', items })
    } catch (err) {
      if (items.length > 1) {
        for (const one of items) this.sendBatch([one])
        return
      }
      deliver(this.pending, items[0]!.id, { error: new ProtocolError(`item cannot be sent to the worker: ${(err as Error).message}`, { cause: err }) })
    }
  }
}
