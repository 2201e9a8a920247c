import type { ChildProcess } from 'node:child_process'
import type { FromWorker, ProcessOptions, ToWorker, WorkerExit, WorkerItem, WorkerOutput, WorkerStart } from '../worker/ipc.ts'
import { Batcher } from '../wire/batcher.ts'
import { deliver, pendingNumber, PromisedItem } from '../wire/pending-item.ts'
import type { ItemListener } from '../wire/pending-item.ts'
import { RemoteError, toWireError, workerExitedError } from '../wire/wire-error.ts'
import { MemoryLimitError, ProtocolError } from '../errors.ts'
import { watchHeapExhausted } from './heap-exhausted.ts'
import type { WireError } from '../wire/wire-error.ts'
import { sendSplitting } from '../wire/send-splitting.ts'

export interface WorkerInfo {
  id: string
  stage: string
  pid: number
  resources: { cpu: number, memoryMb: number }
}

/** How long a graceful kill lets a worker tear down before its SIGKILL. */
export const DEFAULT_KILL_TIMEOUT_MS = 5000

/**
 * How long a worker killed in setup by a stop request waits for its agent's own stop to be known before it is
 * a failed setup: a signal to the agent's whole process group (Ctrl-C in its terminal, systemd's default
 * KillMode=control-group) reaches the worker and the agent together, and the agent may hear its worker's exit first.
 */
export const SETUP_STOP_GRACE_MS = 200
/** Signals that ask a process to stop: sent by an operator or a service manager, not by a stage going wrong. */
const STOP_SIGNALS = new Set(['SIGTERM', 'SIGINT', 'SIGHUP'])

/**
 * A worker ended by a stop request from outside the grid, not by its items: a SIGTERM, SIGINT or SIGHUP this
 * agent did not send (an operator's `kill`, or systemd stopping the agent's unit, which signals every process
 * in it before the agent can drain them). Its items are no suspects, as after the agent's own stop. A SIGKILL
 * from outside stays a crash: the kernel's OOM killer sends it too, to the largest process, often for what
 * the item did, and an operator kills a worker stuck on an item so (the item, run alone, is then poison).
 */
function stopRequest (signal: NodeJS.Signals | null, error: WireError | undefined): boolean {
  return signal != null && STOP_SIGNALS.has(signal) && error == null
}

/** One worker child process on this agent: items in over IPC, results out, one exit. */
export class LocalWorker {
  readonly info: WorkerInfo
  readonly exited: Promise<WorkerExit>
  private readonly child: ChildProcess
  private readonly pending = new Map<number, ItemListener>()
  private readonly ready: Promise<void>
  private isReady = false
  private nextId = 0
  private readonly outgoing = new Batcher<WorkerItem>(items => { this.sendBatch(items) })
  private lastError?: WireError
  /** kill() was called: the exit says the worker was stopped (see WorkerExit.stopped). */
  private stopping = false
  private exit?: WorkerExit
  /** Items cancelled while they waited for `ready` (not numbered yet): their cancel follows them out. */
  private readonly cancelledEarly = new Set<ItemListener>()

  /**
   * `start`: what the child runs, its first IPC message. `agentStopping`: whether its agent's stop has begun
   * (a stop request that ends a worker in setup is then the agent's stop, not the stage's failure).
   */
  constructor (child: ChildProcess, info: WorkerInfo, start: WorkerStart, agentStopping: () => boolean = () => false) {
    this.child = child
    this.info = info
    this.send({ type: 'start', start })
    let markReady: () => void = () => {}
    this.ready = new Promise(resolve => { markReady = () => { this.isReady = true; resolve() } })
    child.on('message', (message: FromWorker) => {
      if (message.type === 'ready') markReady()
      else if (message.type === 'results') this.received(message.results)
      else if (message.type === 'fatal') this.lastError = message.error
    })
    const heap = info.resources.memoryMb > 0 ? watchHeapExhausted(child.stderr) : undefined
    this.exited = new Promise(resolve => {
      const ended = (code: number | null, signal: NodeJS.Signals | null): void => {
        // a worker not ready yet fails its setup even of a stop request, unless its agent is stopping: a setup
        // that SIGTERMs itself must meet the setup rule (three in a row fail the run), not be retried for ever
        // as stopped, while workers in setup that a signal to the stopping agent's process group ended are no failures
        this.exit = this.stopping || (stopRequest(signal, this.lastError) && (this.isReady || agentStopping()))
          ? { code, signal, error: this.lastError, stopped: true }
          : this.isReady ? { code, signal, error: this.lastError } : { code, signal, error: this.lastError, setupFailed: true }
        // the exit first, then the items' rejections (see RemoteWorker.end)
        resolve(this.exit)
        markReady()
        const pending = [...this.pending.values()]
        this.pending.clear()
        const err = workerExitedError(info.id, this.exit)
        // a turn later, as a rejection would be: after what follows `exited` has heard of it
        queueMicrotask(() => { for (const p of pending) p.failed(err) })
      }
      child.once('exit', (code, signal) => {
        if (!this.stopping && !this.isReady && stopRequest(signal, this.lastError) && !agentStopping()) {
          // the agent's stop may be on its way (see SETUP_STOP_GRACE_MS); after the timer, a turn through the
          // event loop's poll phase, so a signal already queued for the agent is heard first even after a long turn
          setTimeout(() => setImmediate(() => { ended(code, signal) }), SETUP_STOP_GRACE_MS)
          return
        }
        if (heap == null || signal !== 'SIGABRT' || this.lastError != null) { ended(code, signal); return }
        // V8 aborts a worker whose JS heap reached --max-old-space-size: say so, not only 'signal SIGABRT'
        void heap.seen().then(full => {
          if (full && this.lastError == null) this.lastError = toWireError(new MemoryLimitError(info.id, undefined, info.resources.memoryMb))
          ended(code, signal)
        })
      })
    })
  }

  get alive (): boolean {
    return this.exit == null
  }

  /**
   * Kills it at once for what it did (the memory watchdog): its exit reports `error` and is a crash, so the
   * items it held are suspects, unlike after `kill`.
   */
  killFor (error: WireError): void {
    if (this.exit != null) return
    this.lastError = error
    this.child.kill('SIGKILL')
  }

  /** One item in, its result out; a task (`options.task`) reports its start and progress, and `signal` cancels it. */
  async process (item: unknown, options: ProcessOptions = {}): Promise<unknown> {
    await this.ready
    if (this.exit != null) throw workerExitedError(this.info.id, this.exit)
    options.signal?.throwIfAborted()
    const entry = new PromisedItem(options)
    this.submit(item, entry, options.task === true)
    const signal = options.signal
    if (signal != null) {
      const onAbort = (): void => { this.cancel(entry) }
      signal.addEventListener('abort', onAbort, { once: true })
      entry.cleanup = () => { signal.removeEventListener('abort', onAbort) }
    }
    return await entry.promise
  }

  /** One item in; `listener` hears its notices and outcome (the agent's relay: nothing made per item but the entry). */
  submit (item: unknown, listener: ItemListener, task = false): void {
    if (!this.isReady) {
      void this.ready.then(() => { this.submit(item, listener, task) })
      return
    }
    if (this.exit != null) {
      const err = workerExitedError(this.info.id, this.exit)
      queueMicrotask(() => { listener.failed(err) })
      return
    }
    const id = this.nextId++
    this.pending.set(id, listener)
    this.outgoing.push(task ? { id, item, task: true } : { id, item })
    if (this.cancelledEarly.delete(listener)) this.cancel(listener)
  }

  /** Aborts the signal of the task `listener` hears for (it still reports its outcome). */
  cancel (listener: ItemListener): void {
    const id = pendingNumber(this.pending, listener)
    if (id == null) {
      // submitted during setup, it waits for `ready` unnumbered: a cancel dropped now would never reach it
      if (!this.isReady && this.exit == null) this.cancelledEarly.add(listener)
      return
    }
    // the item may still sit in the batcher: it leaves first, so the cancel never overtakes it
    this.outgoing.drain()
    this.send({ type: 'cancel', ids: [id] })
  }

  private received (outputs: WorkerOutput[]): void {
    for (const r of outputs) deliver(this.pending, r.id, 'error' in r ? { error: new RemoteError(r.error) } : r)
  }

  /**
   * Stops it from outside (the agent stopping, its owner or an admin): graceful is teardown, then SIGKILL
   * if it takes longer than `timeoutMs`. Its exit says it was stopped, so its items are not suspects.
   */
  async kill (options: { graceful?: boolean, timeoutMs?: number } = {}): Promise<WorkerExit> {
    if (this.exit != null) return this.exit
    this.stopping = true
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
    sendSplitting(items, batch => { this.send({ type: 'batch', items: batch }) }, (item, err) => {
      deliver(this.pending, item.id, { error: new ProtocolError(`item cannot be sent to the worker: ${(err as Error).message}`, { cause: err }) })
    })
  }
}
