import type { Libp2p, PeerId } from '@libp2p/interface'
import { JsonStream, requestJson } from '../transport/json-stream.ts'
import { MAX_BYTES_IN_FLIGHT, MAX_ITEMS_IN_FLIGHT, MAX_WORKER_MESSAGE_BYTES, SPAWN_PROTOCOL, WORKER_PROTOCOL, workerDownSchema, spawnResponseSchema } from '../wire/spawn-protocol.ts'
import type { WorkerInfo } from '../agent/local-worker.ts'
import type { WorkerHandle } from './worker-handle.ts'
import type { ProcessOptions, WorkerExit } from '../worker/ipc.ts'
import { RemoteError, toWireError, workerExitedError } from '../wire/wire-error.ts'
import { AgentLostError, ERR_RATE_LIMITED, NotSerializableError } from '../errors.ts'
import { Batcher } from '../wire/batcher.ts'
import { encodeBatchGroups } from '../wire/batch-encoding.ts'
import { BytesInFlight } from '../wire/bytes-in-flight.ts'
import type { InFlightBatch } from '../wire/bytes-in-flight.ts'
import type { BatchShape, Misfit } from '../wire/batch-encoding.ts'
import { deliver, pendingNumber, PromisedItem } from '../wire/pending-item.ts'
import type { ItemListener } from '../wire/pending-item.ts'

interface HeldItem { n: number, item: unknown, task?: true }
/** A message to write: a batch (`items`) waits until the bytes in flight leave it room; what follows it waits too. */
interface Outgoing { message: Uint8Array, items?: HeldItem[] }

const encoder = new TextEncoder()

const ITEMS: BatchShape = { prefix: '{"type":"batch","items":', suffix: '}', what: 'item', maxBytes: MAX_WORKER_MESSAGE_BYTES }

/**
 * A worker on another agent, driven over one `/gridd/worker/1.0.0` stream.
 * If the stream or the agent is lost, pending items reject with
 * AgentLostError and `exited` resolves with that error.
 */
export class RemoteWorker implements WorkerHandle {
  readonly id: string
  readonly agentId: string
  readonly pid: number
  readonly stage: string
  readonly exited: Promise<WorkerExit>
  private readonly libp2p: Libp2p
  private readonly agent: PeerId
  private readonly json: JsonStream
  private readonly pending = new Map<number, ItemListener>()
  private next = 0
  /** Sent and not yet answered: at most MAX_ITEMS_IN_FLIGHT (the agent closes a stream beyond it); the rest wait here. */
  private sent = 0
  private readonly held: HeldItem[] = []
  /** The bytes of the batch messages sent with items unanswered: at most MAX_BYTES_IN_FLIGHT (the agent closes a stream beyond it). */
  private readonly inFlightBytes = new BytesInFlight(MAX_BYTES_IN_FLIGHT)
  /** Each item sent, by number: the message it went in. */
  private readonly batchOf = new Map<number, InFlightBatch>()
  /** Messages held back (in order) until results free room in flight. */
  private readonly outbox: Outgoing[] = []
  private readonly outgoing = new Batcher<HeldItem>(items => { this.sendBatch(items) })
  /** An item the stream cannot carry fails alone, as the item's own error (an attempt), never as a lost agent. */
  private readonly misfit: Misfit<HeldItem> = (held, err) => {
    queueMicrotask(() => {
      if (deliver(this.pending, held.n, { error: err })) this.sent--
      this.sendHeld()
    })
    return undefined
  }
  private exit?: WorkerExit
  /** What its items failed with when it ended (a lost agent's, a stopped or crashed worker's): later items fail alike. */
  private ended?: Error
  private finish: (exit: WorkerExit) => void = () => {}

  private constructor (libp2p: Libp2p, agent: PeerId, info: WorkerInfo, json: JsonStream) {
    this.libp2p = libp2p
    this.agent = agent
    this.agentId = agent.toString()
    this.id = info.id
    this.pid = info.pid
    this.stage = info.stage
    this.json = json
    this.exited = new Promise(resolve => { this.finish = resolve })
    void this.readLoop()
  }

  static async attach (libp2p: Libp2p, agent: PeerId, info: WorkerInfo, options: { signal?: AbortSignal } = {}): Promise<RemoteWorker> {
    const stream = await libp2p.dialProtocol(agent, WORKER_PROTOCOL, options)
    const json = new JsonStream(stream, { maxBytes: MAX_WORKER_MESSAGE_BYTES })
    try {
      await json.write({ type: 'attach', id: info.id }, options)
    } catch (err) {
      // nobody reads or closes it now: left open it counts against the connection's 64 worker streams
      stream.abort(err as Error)
      throw err
    }
    return new RemoteWorker(libp2p, agent, info, json)
  }

  /** Not async: it adds no promise of its own to every item (a pipeline's hot path). */
  process (item: unknown, options: ProcessOptions = {}): Promise<unknown> {
    if (this.ended != null) return Promise.reject(this.ended)
    if (options.signal?.aborted === true) return Promise.reject(options.signal.reason)
    const entry = new PromisedItem(options)
    this.submit(item, entry, options.task === true)
    const signal = options.signal
    if (signal != null) {
      const onAbort = (): void => { this.cancel(entry, signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      entry.cleanup = () => { signal.removeEventListener('abort', onAbort) }
    }
    return entry.promise
  }

  /** One item in; `listener` hears its notices and outcome (a task pool's path: nothing made per item but the entry). */
  submit (item: unknown, listener: ItemListener, task = false): void {
    const ended = this.ended
    if (ended != null) {
      queueMicrotask(() => { listener.failed(ended) })
      return
    }
    if (typeof item === 'function' || typeof item === 'symbol') {
      // JSON leaves it out (`{"n":0}`, as for undefined, which the agent takes as such): the stage would get
      // undefined in its place, not what was pushed; a local worker's IPC refuses it too
      const err = new NotSerializableError('item', undefined, `is ${typeof item}, which JSON has no value for`)
      queueMicrotask(() => { listener.failed(err) })
      return
    }
    const n = this.next++
    this.pending.set(n, listener)
    this.held.push(task ? { n, item, task: true } : { n, item })
    this.sendHeld()
  }

  /** A task not sent yet ends here (failed with `reason`); one sent has its signal aborted on the agent. */
  cancel (listener: ItemListener, reason: unknown): void {
    const n = pendingNumber(this.pending, listener)
    if (n == null) return
    const at = this.held.findIndex(h => h.n === n)
    if (at >= 0) {
      this.held.splice(at, 1)
      deliver(this.pending, n, { error: reason instanceof Error ? reason : new Error(String(reason)) })
      return
    }
    // the item may still sit in the batcher or the outbox: it goes out first, so the cancel never overtakes it
    this.outgoing.drain()
    this.send({ message: encoder.encode(JSON.stringify({ type: 'cancel', n: [n] })) })
  }

  async kill (options: { graceful?: boolean } = {}): Promise<WorkerExit> {
    if (this.exit == null) {
      // a kill the agent did not read (ERR_RATE_LIMITED; a kill is small enough never to be, read-budget.ts)
      // would leave `exited` waiting: taken as lost, whose stream closing makes the agent kill the worker
      await requestJson(this.libp2p, this.agent, SPAWN_PROTOCOL, { op: 'kill', id: this.id, graceful: options.graceful === true }, spawnResponseSchema, { signal: AbortSignal.timeout(15_000) })
        .then(reply => { if (!reply.ok && reply.code === ERR_RATE_LIMITED) this.lost(`kill refused: ${reply.error.message}`) }, err => { this.lost(`kill failed: ${(err as Error).message}`) })
    }
    return await this.exited
  }

  /** Called when membership reports the agent failed or left. */
  lost (detail: string, options: { left?: boolean } = {}): void {
    if (this.exit != null) return
    const err = new AgentLostError(this.agentId, detail, options)
    this.end({ code: null, signal: null, error: toWireError(err), agentLost: true }, err)
    this.json.stream.abort(err)
  }

  private async readLoop (): Promise<void> {
    try {
      while (this.exit == null) {
        const message = await this.json.read(workerDownSchema)
        if (message.type === 'exit') {
          this.end(message.exit, workerExitedError(this.id, message.exit))
          // our side too: a half-closed stream still counts against the connection's 64 worker streams
          void this.json.close({ signal: AbortSignal.timeout(5000) })
          return
        }
        for (const r of message.results) {
          if (!deliver(this.pending, r.n, 'error' in r ? { error: new RemoteError(r.error) } : r)) continue
          this.sent--
          this.batchOf.get(r.n)?.answered()
          this.batchOf.delete(r.n)
        }
        this.sendOutbox()
        this.sendHeld()
      }
    } catch (err) {
      this.lost(`worker stream closed: ${(err as Error).message}`)
    }
  }

  private sendBatch (items: HeldItem[]): void {
    for (const { message, entries } of encodeBatchGroups(items, ITEMS, this.misfit)) this.send({ message, items: entries })
  }

  private send (outgoing: Outgoing): void {
    this.outbox.push(outgoing)
    this.sendOutbox()
  }

  /** Writes what the bytes in flight leave room for, in order. */
  private sendOutbox (): void {
    while (this.outbox.length > 0) {
      const { message, items } = this.outbox[0]!
      if (items != null) {
        if (!this.inFlightBytes.fits(message.byteLength)) return
        const batch = this.inFlightBytes.take(message.byteLength, items.length)
        for (const { n } of items) this.batchOf.set(n, batch)
      }
      this.outbox.shift()
      this.json.writeEncoded(message).catch(err => { this.lost(`write failed: ${(err as Error).message}`) })
    }
  }

  private sendHeld (): void {
    while (this.sent < MAX_ITEMS_IN_FLIGHT && this.held.length > 0) {
      this.sent++
      this.outgoing.push(this.held.shift()!)
    }
  }

  private end (exit: WorkerExit, err: Error): void {
    if (this.exit != null) return
    this.exit = exit
    this.ended = err
    // the exit first: whoever follows `exited` (a stage, a task pool) hears the worker is gone before its
    // items' rejections, so it handles them as a lost worker's, in one place and in order
    this.finish(exit)
    const pending = [...this.pending.values()]
    this.pending.clear()
    this.outbox.length = 0
    this.batchOf.clear()
    // a turn later, as a rejection would be: after what follows `exited` has heard of it
    queueMicrotask(() => { for (const p of pending) p.failed(err) })
  }
}
