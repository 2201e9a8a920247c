import type { ChildProcess } from 'node:child_process'
import type { FromWorker, ToWorker, WorkerExit } from '../worker/ipc.ts'
import { Batcher } from '../wire/batcher.ts'
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

/** One worker child process on this agent: items in over IPC, results out, one exit. */
export class LocalWorker {
  readonly info: WorkerInfo
  readonly exited: Promise<WorkerExit>
  private readonly child: ChildProcess
  private readonly pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  private readonly ready: Promise<void>
  private nextId = 0
  private readonly outgoing = new Batcher<{ id: number, item: unknown }>(items => { this.sendBatch(items) })
  private lastError?: WireError
  private exit?: WorkerExit

  constructor (child: ChildProcess, info: WorkerInfo) {
    this.child = child
    this.info = info
    let markReady: () => void = () => {}
    this.ready = new Promise(resolve => { markReady = resolve })
    child.on('message', (message: FromWorker) => {
      if (message.type === 'ready') markReady()
      else if (message.type === 'results') {
        for (const r of message.results) this.settle(r.id, p => { if ('error' in r) p.reject(new RemoteError(r.error)); else p.resolve(r.value) })
      }
      else if (message.type === 'fatal') this.lastError = message.error
    })
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, error: this.lastError }
        for (const p of this.pending.values()) p.reject(workerExitedError(info.id, this.exit))
        this.pending.clear()
        markReady()
        resolve(this.exit)
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

  async process (item: unknown): Promise<unknown> {
    await this.ready
    if (this.exit != null) throw workerExitedError(this.info.id, this.exit)
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.outgoing.push({ id, item })
    })
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
  private sendBatch (items: Array<{ id: number, item: unknown }>): void {
    try {
      this.send({ type: 'batch', items })
    } catch (err) {
      if (items.length > 1) {
        for (const one of items) this.sendBatch([one])
        return
      }
      this.settle(items[0]!.id, p => { p.reject(new ProtocolError(`item cannot be sent to the worker: ${(err as Error).message}`, { cause: err })) })
    }
  }

  private settle (id: number, fn: (p: { resolve: (v: unknown) => void, reject: (e: Error) => void }) => void): void {
    const p = this.pending.get(id)
    if (p == null) return
    this.pending.delete(id)
    fn(p)
  }
}
