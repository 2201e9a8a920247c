import type { Libp2p, Stream, Connection } from '@libp2p/interface'
import { JsonStream } from '../transport/json-stream.ts'
import { MAX_ITEMS_IN_FLIGHT, SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnFailure, spawnRequestSchema, workerUpSchema } from '../wire/spawn-protocol.ts'
import type { SpawnRequestMessage, SpawnResponseMessage, WorkerDown } from '../wire/spawn-protocol.ts'
import { dirname } from 'node:path'
import { locateModule } from './module-cache.ts'
import { MAX_MODULE_BYTES } from '../wire/module-ref.ts'
import type { Spawner } from './spawner.ts'
import type { LocalWorker } from './local-worker.ts'
import { DEFAULT_ATTACH_TIMEOUT_MS } from './config.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { Logger } from '../logger.ts'
import { ModuleMissingError, ProtocolError, WorkerNotFoundError } from '../errors.ts'
import { Rejections, streamFailure } from '../transport/rejections.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import { Batcher } from '../wire/batcher.ts'

const REQUEST_TIMEOUT_MS = 10_000
const MAX_WORKER_MESSAGE_BYTES = 16 * 1024 * 1024

/**
 * The agent's network face: `/gridd/spawn/1.0.0` (spawn, kill, list) and
 * `/gridd/worker/1.0.0` (items to one worker and its results back, then its
 * exit). Any authenticated member may use them.
 */
export class AgentService {
  private readonly libp2p: Libp2p
  private readonly spawner: Spawner
  private readonly dataDir: string
  private readonly log: Logger
  private readonly attachTimeoutMs: number
  /** Bad spawn requests and worker streams closed for breaking the protocol: counted, logged once a minute per peer. */
  private readonly rejections: Rejections
  /** Workers spawned for a requester that has not opened their worker stream yet, with their kill timers. */
  private readonly unattached = new Map<string, NodeJS.Timeout>()

  constructor (libp2p: Libp2p, spawner: Spawner, dataDir: string, log: Logger, options: { attachTimeoutMs?: number } = {}) {
    this.libp2p = libp2p
    this.spawner = spawner
    this.dataDir = dataDir
    this.log = log.child({ component: 'agent' })
    this.attachTimeoutMs = options.attachTimeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS
    this.rejections = new Rejections(this.log)
  }

  /** Bad spawn requests and worker streams closed for a protocol violation, by reason (`gridd_rejected_messages_total` rows). */
  rejected (): RejectedCount[] {
    return this.rejections.counters()
  }

  async start (): Promise<void> {
    await this.libp2p.handle(SPAWN_PROTOCOL, async (stream, connection) => { await this.onSpawnStream(stream, connection) })
    await this.libp2p.handle(WORKER_PROTOCOL, async (stream, connection) => { await this.onWorkerStream(stream, connection.remotePeer.toString()) })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle([SPAWN_PROTOCOL, WORKER_PROTOCOL]).catch(() => {})
    for (const timer of this.unattached.values()) clearTimeout(timer)
    this.unattached.clear()
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
    const json = new JsonStream(stream, { maxBytes: MAX_MODULE_BYTES + 64 * 1024 })
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    try {
      const request = await json.read(spawnRequestSchema, { signal })
      await json.write(await this.answer(request, connection.remotePeer.toString()), { signal })
      await json.close()
    } catch (err) {
      this.rejections.reject(SPAWN_PROTOCOL, streamFailure(err), connection.remotePeer.toString(), 'dropped malformed spawn request', String(err), { err })
      stream.abort(err as Error)
    }
  }

  private async answer (request: SpawnRequestMessage, from: string): Promise<SpawnResponseMessage> {
    try {
      if (request.op === 'list') return { ok: true, workers: this.spawner.list() }
      if (request.op === 'kill') {
        const worker = this.spawner.get(request.id)
        if (worker == null) return { ok: true }
        return { ok: true, exit: await worker.kill({ graceful: request.graceful }) }
      }
      const modulePath = await locateModule(request.module, this.dataDir)
      if (modulePath == null) throw new ModuleMissingError(request.module.sha256)
      const worker = this.spawner.spawn({ stage: request.stage, modulePath, resources: request.resources, env: request.env, concurrency: request.concurrency, shippedFrom: [dirname(request.module.path)] })
      this.expectAttach(worker)
      // where the module came from: sent with this request, or the content-addressed cache
      const module = request.module.source != null ? 'shipped' : 'cached'
      this.log.info({ worker: worker.info.id, stage: request.stage, requester: from, module }, 'spawned for a remote requester')
      return { ok: true, worker: worker.info }
    } catch (err) {
      return spawnFailure(err)
    }
  }

  /** Relays items to a local worker and results back; reports its exit, then closes. */
  private async onWorkerStream (stream: Stream, from: string): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: MAX_WORKER_MESSAGE_BYTES })
    let worker: ReturnType<Spawner['get']>
    try {
      const attach = await json.read(workerUpSchema, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      const id = attach.type === 'attach' ? attach.id : '(none named)'
      worker = this.spawner.get(id)
      if (worker == null) {
        await json.write({ type: 'exit', exit: { code: null, signal: null, error: toWireError(new WorkerNotFoundError(id)) } } satisfies WorkerDown)
        await json.close()
        return
      }
      this.attached(id)
      const send = (message: WorkerDown): void => { json.write(message).catch(() => {}) }
      type Result = Extract<WorkerDown, { type: 'results' }>['results'][number]
      const results = new Batcher<Result>(batch => { send({ type: 'results', results: batch }) })
      // items received and not yet answered: bounded, so a requester cannot queue unbounded work here
      let inFlight = 0
      const answer = (result: Result): void => {
        inFlight--
        results.push(result)
      }
      const attached = worker
      void attached.exited.then(exit => {
        // results still batched go out before the exit notice
        setImmediate(() => {
          send({ type: 'exit', exit })
          void json.close()
        })
      })
      while (attached.alive) {
        const message = await json.read(workerUpSchema)
        if (message.type !== 'batch') continue
        if (inFlight + message.items.length > MAX_ITEMS_IN_FLIGHT) {
          throw new ProtocolError(`${inFlight + message.items.length} items in flight on a worker stream, more than the ${MAX_ITEMS_IN_FLIGHT} allowed`)
        }
        inFlight += message.items.length
        for (const { n, item } of message.items) {
          attached.process(item).then(
            value => { answer({ n, value }) },
            err => { answer({ n, error: toWireError(err) }) }
          )
        }
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.rejections.reject(WORKER_PROTOCOL, 'protocol', from, 'closed a worker stream that broke the protocol', err.message, { err, worker: worker?.info.id })
        stream.abort(err)
      } else {
        this.log.debug({ err }, 'worker stream ended')
      }
      // a worker belongs to the requester that holds its stream: when that goes, so does the worker
      if (worker?.alive === true) void worker.kill({ graceful: true })
    }
  }
}
