import type { Libp2p, Stream, Connection } from '@libp2p/interface'
import { JsonStream } from '../transport/json-stream.ts'
import { MAX_BYTES_IN_FLIGHT, MAX_ITEMS_IN_FLIGHT, MAX_WORKER_MESSAGE_BYTES, SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnFailure, spawnRequestSchema, workerUpSchema } from '../wire/spawn-protocol.ts'
import type { SpawnRequestMessage, SpawnResponseMessage, WorkerDown } from '../wire/spawn-protocol.ts'
import { MAX_MODULE_BYTES } from '../wire/module-ref.ts'
import type { Spawner, AgentUsage } from './spawner.ts'
import type { StageModules } from './stage-modules.ts'
import type { LocalWorker } from './local-worker.ts'
import { DEFAULT_ATTACH_TIMEOUT_MS } from './config.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { Logger } from '../logger.ts'
import { AgentFullError, ProtocolError, RateLimitedError, WorkerNotFoundError } from '../errors.ts'
import { lacks } from '../placement/index.ts'
import { Rejections, streamFailure } from '../transport/rejections.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import { RelayWriter } from './relay-writer.ts'
import { RelayedItem } from './relayed-item.ts'
import type { Relay, RelayedResult } from './relayed-item.ts'
import type { RoleCheck } from '../trust/credentials.ts'
import { guarded } from '../trust/guard.ts'
import { RecentExits } from './recent-exits.ts'
import { refusalFrame } from '../trust/refusal.ts'
import { ReadBudget } from '../transport/read-budget.ts'
import { BytesInFlight } from '../wire/bytes-in-flight.ts'

const REQUEST_TIMEOUT_MS = 10_000
/** A spawn, list or kill request with its answer (a graceful kill waits for the worker's exit). */
const SPAWN_DEADLINE_MS = 60_000
/**
 * A worker stream's first message names its worker in a few dozen bytes: read within this, not the 16 MiB a
 * batch may take, so streams opened only to send it (1,024 a connection) cannot each make this node buffer that.
 */
const MAX_ATTACH_BYTES = 4096
/** A spawn request: a shipped module and room for the rest. */
const MAX_SPAWN_BYTES = MAX_MODULE_BYTES + 64 * 1024
/**
 * Bytes of spawn requests being read at once for one peer (sixteen of the largest) and for all: a member may hold
 * 32 spawn streams on each of 8 connections, and each was read in full at once (1.3 GB of a real agent's RSS).
 */
const MAX_SPAWN_READING_PER_PEER = 16 * MAX_SPAWN_BYTES
const MAX_SPAWN_READING_TOTAL = 4 * MAX_SPAWN_READING_PER_PEER

/** What the agent offers: a spawn is checked against it before anything is written. */
export interface AgentCapacity {
  cpu: number
  memoryMb: number
  workers: number
}
/** Worker streams one connection may hold open: one per worker, and an agent's worker cap is far lower. */
const MAX_WORKER_STREAMS = 1024

/**
 * The agent's network face: `/gridd/spawn/1.0.0` (spawn, kill, list) and
 * `/gridd/worker/1.0.0` (items to one worker and its results back, then its
 * exit). Members spawn; a worker belongs to the peer that spawned it, which
 * alone may attach to it, list it and kill it (an admin may list and kill any).
 */
export class AgentService {
  private readonly libp2p: Libp2p
  private readonly spawner: Spawner
  private readonly modules: StageModules
  private readonly capacity?: AgentCapacity
  /** Spawns past their capacity check whose worker is not started yet (their module is being stored). */
  private readonly pending: AgentUsage = { cpu: 0, memoryMb: 0, workers: 0 }
  private readonly log: Logger
  private readonly attachTimeoutMs: number
  /** Bad spawn requests and worker streams closed for breaking the protocol: counted, logged once a minute per peer. */
  private readonly rejections: Rejections
  /** Workers spawned for a requester that has not opened their worker stream yet, with their kill timers. */
  private readonly unattached = new Map<string, NodeJS.Timeout>()
  /** Who spawned each live worker (a peer id). */
  private readonly owners = new Map<string, string>()
  private readonly recentExits = new RecentExits()
  private readonly roles: RoleCheck
  private readonly reading = new ReadBudget(MAX_SPAWN_READING_PER_PEER, MAX_SPAWN_READING_TOTAL)

  constructor (libp2p: Libp2p, spawner: Spawner, modules: StageModules, log: Logger, roles: RoleCheck, options: { attachTimeoutMs?: number, capacity?: AgentCapacity } = {}) {
    this.libp2p = libp2p
    this.roles = roles
    this.spawner = spawner
    this.modules = modules
    this.capacity = options.capacity
    this.log = log.child({ component: 'agent' })
    this.attachTimeoutMs = options.attachTimeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS
    this.rejections = new Rejections(this.log)
  }

  /** Bad spawn requests and worker streams closed for a protocol violation, by reason (`gridd_rejected_messages_total` rows). */
  rejected (): RejectedCount[] {
    return this.rejections.counters()
  }

  async start (): Promise<void> {
    await this.libp2p.handle(SPAWN_PROTOCOL, guarded(this.roles, SPAWN_PROTOCOL, ['member', 'admin'], async (stream, connection) => { await this.onSpawnStream(stream, connection) }, { deadlineMs: SPAWN_DEADLINE_MS }))
    // one stream per worker: a member may run many workers here (the registrar's default is 32 per connection)
    await this.libp2p.handle(WORKER_PROTOCOL, guarded(this.roles, WORKER_PROTOCOL, ['member'], async (stream, connection) => { await this.onWorkerStream(stream, connection.remotePeer.toString()) }), { maxInboundStreams: MAX_WORKER_STREAMS })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle([SPAWN_PROTOCOL, WORKER_PROTOCOL]).catch(() => {})
    for (const timer of this.unattached.values()) clearTimeout(timer)
    this.unattached.clear()
  }

  /** The spawner of a worker, or an admin. */
  private mayTouch (id: string, peer: string, via: Connection): boolean {
    return this.owners.get(id) === peer || this.roles.has(peer, 'admin', via)
  }

  /** A worker nobody attaches to would run forever: it gets `attachTimeoutMs`, then SIGKILL. */
  private expectAttach (worker: LocalWorker): void {
    const id = worker.info.id
    const timer = setTimeout(() => {
      this.unattached.delete(id)
      if (!worker.alive) return
      this.log.warn({ worker: id, attachTimeoutMs: this.attachTimeoutMs }, 'worker never attached: killed')
      void worker.kill()
    }, this.attachTimeoutMs)
    timer.unref()
    this.unattached.set(id, timer)
    void worker.exited.then(() => { this.attached(id) })
  }

  private attached (id: string): void {
    clearTimeout(this.unattached.get(id))
    this.unattached.delete(id)
  }

  private async onSpawnStream (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const json = new JsonStream(stream, { maxBytes: MAX_SPAWN_BYTES, budget: this.reading.of(peer) })
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    try {
      let answer: SpawnResponseMessage
      try {
        answer = await this.answer(await json.readLast(spawnRequestSchema, { signal }), connection)
      } catch (err) {
        if (!(err instanceof RateLimitedError)) throw err
        // over the peer's budget: refused from its length (its body dropped as it comes), retryable
        this.reading.refused(this.rejections, SPAWN_PROTOCOL, peer, 'a spawn request')
        answer = spawnFailure(err)
      }
      await json.write(answer, { signal })
      await json.close()
    } catch (err) {
      this.rejections.reject(SPAWN_PROTOCOL, streamFailure(err), peer, 'dropped a spawn request', String(err), { err })
      stream.abort(err as Error)
    }
  }

  /** Answers `request`, judged by the certificate presented on `via`, the connection it came on. */
  private async answer (request: SpawnRequestMessage, via: Connection): Promise<SpawnResponseMessage> {
    const from = via.remotePeer.toString()
    try {
      if (request.op === 'list') return { ok: true, workers: this.spawner.list().filter(w => this.mayTouch(w.id, from, via)) }
      if (request.op === 'kill') {
        const worker = this.spawner.get(request.id)
        if (worker == null) return { ok: true }
        if (!this.mayTouch(request.id, from, via)) this.roles.authorize(from, ['admin'], `${SPAWN_PROTOCOL} kill of a worker another peer spawned`, via)
        return { ok: true, exit: await worker.kill({ graceful: request.graceful }) }
      }
      this.roles.authorize(from, ['member'], `${SPAWN_PROTOCOL} spawn`, via)
      const worker = await this.spawnFor(request, from)
      this.owners.set(worker.info.id, from)
      void worker.exited.then(exit => {
        this.owners.delete(worker.info.id)
        this.recentExits.record(worker.info.id, from, exit)
      })
      return { ok: true, worker: worker.info }
    } catch (err) {
      return spawnFailure(err)
    }
  }

  /**
   * Capacity first, then the module (a spawn refused for room writes nothing to the cache), then
   * the worker. A bundle this spawn stored is removed again if the worker cannot start.
   */
  private async spawnFor (request: Extract<SpawnRequestMessage, { op: 'spawn' }>, from: string, options: { attach?: boolean } = {}): Promise<LocalWorker> {
    const release = this.reserve(request.resources)
    try {
      const module = await this.modules.locate(request.module)
      let worker: LocalWorker
      try {
        worker = this.spawner.spawn({ stage: request.stage, modulePath: module.path, resources: request.resources, env: request.env, concurrency: request.concurrency, shippedFrom: module.packageRoots })
      } catch (err) {
        await module.discard()
        throw err
      }
      void worker.exited.then(module.release)
      if (options.attach !== false) this.expectAttach(worker)
      this.log.info({ worker: worker.info.id, stage: request.stage, requester: from, module: module.from }, options.attach === false ? 'spawned shipped code for this node' : 'spawned for a remote requester')
      return worker
    } finally {
      release()
    }
  }

  /**
   * Another peer's code that this node itself runs (a task module a member shipped to it): the same
   * path as a remote requester's spawn (the verified cache, bare imports from the agent's own packages),
   * driven over IPC by this node, so nothing attaches to it.
   */
  async spawnShipped (request: Omit<Extract<SpawnRequestMessage, { op: 'spawn' }>, 'op'>, self: string): Promise<LocalWorker> {
    return await this.spawnFor({ op: 'spawn', ...request }, self, { attach: false })
  }

  /** Counts a spawn against the capacity until its worker starts; AgentFullError if it does not fit. */
  private reserve (resources: { cpu: number, memoryMb: number }): () => void {
    if (this.capacity == null) return () => {}
    const usage = this.spawner.usage()
    const used = { cpu: usage.cpu + this.pending.cpu, memoryMb: usage.memoryMb + this.pending.memoryMb, workers: usage.workers + this.pending.workers }
    const lacking = lacks(resources, { capacity: this.capacity, maxWorkers: this.capacity.workers, used })
    if (lacking.length > 0) throw new AgentFullError(lacking)
    const add = (sign: number): void => {
      this.pending.cpu += sign * resources.cpu
      this.pending.memoryMb += sign * resources.memoryMb
      this.pending.workers += sign
    }
    add(1)
    return () => { add(-1) }
  }

  /** Relays items to a local worker and results back; reports its exit, then closes. */
  private async onWorkerStream (stream: Stream, from: string): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: MAX_WORKER_MESSAGE_BYTES })
    let worker: ReturnType<Spawner['get']>
    try {
      const attach = await json.read(workerUpSchema, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), maxBytes: MAX_ATTACH_BYTES })
      const id = attach.type === 'attach' ? attach.id : '(none named)'
      worker = this.spawner.get(id)
      if (worker != null && this.owners.get(id) !== from) {
        // someone else's worker: attaching would let it feed items and read results (and end it on close)
        worker = undefined
        await json.endRead()
        await json.write(refusalFrame(this.roles.forbid(from, `${WORKER_PROTOCOL} to attach to a worker another peer spawned`)))
        await json.close()
        return
      }
      if (worker == null) {
        const exit = this.recentExits.of(id, from) ?? { code: null, signal: null, error: toWireError(new WorkerNotFoundError(id)) }
        // nothing more is read from a stream that attached to nothing
        await json.endRead()
        await json.write({ type: 'exit', exit } satisfies WorkerDown)
        await json.close()
        return
      }
      this.attached(id)
      const out = new RelayWriter(json, this.log.child({ worker: id }))
      // items received and not yet answered, and the bytes of their messages: bounded, so a requester cannot
      // queue unbounded work and memory here
      let inFlight = 0
      const inFlightBytes = new BytesInFlight(MAX_BYTES_IN_FLIGHT)
      const answer = (result: RelayedResult): void => {
        inFlight--
        out.push(result)
      }
      const attached = worker
      void attached.exited.then(exit => {
        // a turn later: the results of items that settled with the exit go out before the exit notice
        setImmediate(() => { out.exit(exit) })
      })
      // tasks in flight on this stream, by the requester's number: a cancel aborts their signals
      const tasks = new Map<number, RelayedItem>()
      const relay: Relay = { tasks, answer, unanswered: () => { inFlight-- }, notice: result => { out.push(result) } }
      while (attached.alive) {
        const message = await json.read(workerUpSchema)
        if (message.type === 'cancel') {
          for (const n of message.n) {
            const item = tasks.get(n)
            if (item != null) attached.cancel(item)
          }
          continue
        }
        if (message.type !== 'batch') continue
        if (inFlight + message.items.length > MAX_ITEMS_IN_FLIGHT) {
          throw new ProtocolError(`${inFlight + message.items.length} items in flight on a worker stream, more than the ${MAX_ITEMS_IN_FLIGHT} allowed`)
        }
        if (!inFlightBytes.fits(json.lastBytes)) {
          throw new ProtocolError(`${inFlightBytes.bytes + json.lastBytes} bytes of items in flight on a worker stream, more than the ${MAX_BYTES_IN_FLIGHT} allowed`)
        }
        inFlight += message.items.length
        const batch = inFlightBytes.take(json.lastBytes, message.items.length)
        for (const { n, item, task } of message.items) {
          const relayed = new RelayedItem(relay, n, task === true, batch)
          if (task === true) tasks.set(n, relayed)
          attached.submit(item, relayed, task === true)
        }
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.rejections.reject(WORKER_PROTOCOL, 'protocol', from, 'closed a worker stream that broke the protocol', err.message, { err, worker: worker?.info.id })
        stream.abort(err)
      } else {
        this.log.debug({ err }, 'worker stream ended')
        // a read that timed out or failed left its reader on the stream, buffering what comes: no more
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
      // a worker belongs to the requester that holds its stream: when that goes, so does the worker
      if (worker?.alive === true) void worker.kill({ graceful: true })
    }
  }
}
