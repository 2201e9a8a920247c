import type { Libp2p, Stream, Connection } from '@libp2p/interface'
import { JsonStream } from '../transport/json-stream.ts'
import { SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnRequestSchema, workerUpSchema } from '../wire/spawn-protocol.ts'
import type { SpawnRequestMessage, SpawnResponseMessage, WorkerDown } from '../wire/spawn-protocol.ts'
import { locateModule } from './module-cache.ts'
import { MAX_MODULE_BYTES } from '../wire/module-ref.ts'
import type { Spawner } from './spawner.ts'
import { toWireError } from '../wire/wire-error.ts'
import type { Logger } from '../logger.ts'
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

  constructor (libp2p: Libp2p, spawner: Spawner, dataDir: string, log: Logger) {
    this.libp2p = libp2p
    this.spawner = spawner
    this.dataDir = dataDir
    this.log = log.child({ component: 'agent' })
  }

  async start (): Promise<void> {
    await this.libp2p.handle(SPAWN_PROTOCOL, async (stream, connection) => { await this.onSpawnStream(stream, connection) })
    await this.libp2p.handle(WORKER_PROTOCOL, async (stream) => { await this.onWorkerStream(stream) })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle([SPAWN_PROTOCOL, WORKER_PROTOCOL]).catch(() => {})
  }

  private async onSpawnStream (stream: Stream, connection: Connection): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: MAX_MODULE_BYTES + 64 * 1024 })
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    try {
      const request = await json.read(spawnRequestSchema, { signal })
      await json.write(await this.answer(request, connection.remotePeer.toString()), { signal })
      await json.close()
    } catch (err) {
      this.log.warn({ peer: connection.remotePeer.toString(), err: (err as Error).message }, 'dropped malformed spawn request')
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
      if (modulePath == null) return { ok: false, needSource: true, error: { name: 'ModuleMissing', message: 'send the module source' } }
      const worker = this.spawner.spawn({ stage: request.stage, modulePath, resources: request.resources, env: request.env, concurrency: request.concurrency })
      // where the module came from: sent with this request, the content-addressed cache, or the same file here
      const module = request.module.source != null ? 'shipped' : modulePath === request.module.path ? 'local' : 'cached'
      this.log.info({ worker: worker.info.id, stage: request.stage, requester: from, module }, 'spawned for a remote requester')
      return { ok: true, worker: worker.info }
    } catch (err) {
      return { ok: false, error: toWireError(err) }
    }
  }

  /** Relays items to a local worker and results back; reports its exit, then closes. */
  private async onWorkerStream (stream: Stream): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: MAX_WORKER_MESSAGE_BYTES })
    let worker: ReturnType<Spawner['get']>
    try {
      const attach = await json.read(workerUpSchema, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      worker = attach.type === 'attach' ? this.spawner.get(attach.id) : undefined
      if (worker == null) {
        await json.write({ type: 'exit', exit: { code: null, signal: null, error: { name: 'WorkerNotFound', message: 'no such worker on this agent' } } } satisfies WorkerDown)
        await json.close()
        return
      }
      const send = (message: WorkerDown): void => { json.write(message).catch(() => {}) }
      type Result = Extract<WorkerDown, { type: 'results' }>['results'][number]
      const results = new Batcher<Result>(batch => { send({ type: 'results', results: batch }) })
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
        for (const { n, item } of message.items) {
          attached.process(item).then(
            value => { results.push({ n, value }) },
            err => { results.push({ n, error: toWireError(err) }) }
          )
        }
      }
    } catch (err) {
      // a worker belongs to the requester that holds its stream: when that goes, so does the worker
      this.log.debug({ err: (err as Error).message }, 'worker stream ended')
      if (worker?.alive === true) void worker.kill({ graceful: true })
    }
  }
}
