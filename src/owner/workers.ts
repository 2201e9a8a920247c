import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { requestJson } from '../transport/json-stream.ts'
import { SPAWN_PROTOCOL, spawnResponseSchema } from '../wire/spawn-protocol.ts'
import type { SpawnResponseMessage } from '../wire/spawn-protocol.ts'
import { checkModulePath, readModule } from './module-source.ts'
import type { ShippableModule } from './module-source.ts'
import { RemoteWorker } from './remote-worker.ts'
import { localHandle } from './local-handle.ts'
import type { WorkerHandle } from './worker-handle.ts'
import type { AgentRole } from '../agent/agent-role.ts'
import type { Membership } from '../membership/membership.ts'
import type { Member } from '../membership/member.ts'
import { rankAgents, fitCount } from '../placement/index.ts'
import type { AgentLoad } from '../placement/index.ts'
import { RemoteError } from '../wire/wire-error.ts'
import { ConfigError, NoCapacityError, SpawnRefusedError } from '../errors.ts'
import type { Logger } from '../logger.ts'

export interface SpawnOptions {
  stage: string
  /** Path of the stage module on this machine; shipped to agents that lack it. */
  module: string
  resources?: { cpu?: number, memoryMb?: number }
  env?: Record<string, string>
  /** Items the worker processes at once. Default 1. */
  concurrency?: number
}

const SPAWN_TIMEOUT_MS = 15_000
/** How long a finished spawn still counts against its agent: its load gossip arrives well within it. */
const RESERVATION_MS = 100

/**
 * `node.workers`: spawn a stage worker on the least-burdened agent of the
 * grid (this node included, if it is an agent) and get a handle that works
 * the same wherever it landed.
 */
export class Workers {
  private readonly libp2p: Libp2p
  private readonly membership: Membership
  private readonly agent?: AgentRole
  private readonly log: Logger
  private readonly handles = new Map<string, WorkerHandle>()
  /** Spawns in flight (and just done), per agent: gossip has not counted them yet. */
  private readonly reserved = new Map<string, { cpu: number, memoryMb: number, workers: number }>()

  constructor (libp2p: Libp2p, membership: Membership, agent: AgentRole | undefined, log: Logger) {
    this.libp2p = libp2p
    this.membership = membership
    this.agent = agent
    this.log = log.child({ component: 'workers' })
  }

  /** Tries agents in placement order; one that refuses (it filled up meanwhile) passes to the next. */
  async spawn (options: SpawnOptions, { signal }: { signal?: AbortSignal } = {}): Promise<WorkerHandle> {
    const resources = { cpu: options.resources?.cpu ?? 1, memoryMb: options.resources?.memoryMb ?? 0 }
    if (typeof options.stage !== 'string' || options.stage === '') throw new ConfigError('stage', 'must be a non-empty string')
    // local workers import the file itself; remote ones get it bundled (once, on first need)
    const modulePath = await checkModulePath(options.module)
    let shipped: Promise<ShippableModule> | undefined
    const { ranked, shortfalls } = rankAgents(resources, this.candidates())
    const refusals: string[] = []
    for (const agent of ranked) {
      signal?.throwIfAborted()
      // concurrent spawns would all rank agents from the same gossiped load and
      // stampede one agent: count this one against it until gossip catches up
      this.reserve(agent.id, resources, 1)
      try {
        const handle = agent.id === this.libp2p.peerId.toString()
          ? this.spawnLocal(options, modulePath, resources)
          : await this.spawnRemote(agent.id, options, await (shipped ??= readModule(modulePath, options.stage)), resources, signal)
        this.track(handle)
        // this node's own load is updated synchronously; a remote agent's arrives by gossip
        // shortly, unless the worker is already gone (it then never counts again)
        let held = true
        const release = (): void => { if (held) { held = false; this.reserve(agent.id, resources, -1) } }
        if (agent.id === this.libp2p.peerId.toString()) release()
        else {
          setTimeout(release, RESERVATION_MS).unref()
          void handle.exited.then(release)
        }
        return handle
      } catch (err) {
        this.reserve(agent.id, resources, -1)
        if (!(err instanceof SpawnRefusedError)) throw err
        refusals.push(`${agent.id}: ${err.message}`)
        this.log.debug({ agent: agent.id, err: err.message }, 'spawn refused, trying the next agent')
      }
    }
    throw new NoCapacityError([...shortfalls, ...refusals.map(r => ({ agentId: r.split(':')[0] ?? '', lacks: [r.slice(r.indexOf(':') + 2)] }))])
  }

  /** How many more workers needing `resources` the grid's alive agents can take now (at most `limit`). */
  capacityFor (resources: SpawnOptions['resources'] = {}, limit?: number): number {
    return fitCount({ cpu: resources.cpu ?? 1, memoryMb: resources.memoryMb ?? 0 }, this.candidates(), limit)
  }

  /** Handles this node spawned that are still running. */
  list (): WorkerHandle[] {
    return [...this.handles.values()]
  }

  /** Membership says an agent is gone: its workers' handles fail now, not at some timeout. */
  agentLost (agentId: string, detail: string): void {
    for (const handle of this.handles.values()) {
      if (handle.agentId === agentId && handle instanceof RemoteWorker) handle.lost(detail)
    }
  }

  async stop (): Promise<void> {
    await Promise.allSettled([...this.handles.values()].map(async h => await h.kill({ graceful: true })))
  }

  private candidates (): AgentLoad[] {
    const members: Member[] = [this.membership.selfMember(), ...this.membership.members()]
    return members.filter(m => m.role === 'agent' && m.state === 'alive').map(m => ({
      id: m.id,
      capacity: { cpu: m.capacity.cpu, memoryMb: m.capacity.memoryMb },
      maxWorkers: m.load.maxWorkers,
      used: {
        cpu: m.load.slotsUsed + (this.reserved.get(m.id)?.cpu ?? 0),
        memoryMb: m.load.memoryUsedMb + (this.reserved.get(m.id)?.memoryMb ?? 0),
        workers: m.load.workers + (this.reserved.get(m.id)?.workers ?? 0)
      },
      weight: m.weight,
      strategy: m.strategy
    }))
  }

  private spawnLocal (options: SpawnOptions, modulePath: string, resources: { cpu: number, memoryMb: number }): WorkerHandle {
    if (this.agent == null) throw new SpawnRefusedError('this node is not an agent')
    const worker = this.agent.spawner.spawn({ stage: options.stage, modulePath, resources, env: options.env, concurrency: options.concurrency })
    return localHandle(worker, this.libp2p.peerId.toString())
  }

  private async spawnRemote (agentId: string, options: SpawnOptions, module: ShippableModule, resources: { cpu: number, memoryMb: number }, signal?: AbortSignal): Promise<WorkerHandle> {
    const agent = peerIdFromString(agentId)
    await this.membership.teachAddresses(agentId)
    const opts = { signal: signal == null ? AbortSignal.timeout(SPAWN_TIMEOUT_MS) : AbortSignal.any([signal, AbortSignal.timeout(SPAWN_TIMEOUT_MS)]) }
    const request = { op: 'spawn', stage: options.stage, module: { path: module.path, sha256: module.sha256 }, resources, env: options.env, concurrency: options.concurrency }
    let reply: SpawnResponseMessage = await requestJson(this.libp2p, agent, SPAWN_PROTOCOL, request, spawnResponseSchema, opts)
    if (!reply.ok && reply.needSource === true) {
      // the agent lacks this exact module: ship its source (content-addressed, cached there)
      reply = await requestJson(this.libp2p, agent, SPAWN_PROTOCOL, { ...request, module: { ...request.module, source: module.source } }, spawnResponseSchema, opts)
    }
    if (!reply.ok) {
      if (reply.error.code === 'ERR_SPAWN_REFUSED') throw new SpawnRefusedError(reply.error.message)
      throw new RemoteError(reply.error)
    }
    if (reply.worker == null) throw new SpawnRefusedError('the agent answered without a worker')
    return await RemoteWorker.attach(this.libp2p, agent, reply.worker, opts)
  }

  private reserve (agentId: string, resources: { cpu: number, memoryMb: number }, sign: 1 | -1): void {
    const r = this.reserved.get(agentId) ?? { cpu: 0, memoryMb: 0, workers: 0 }
    r.cpu += sign * resources.cpu
    r.memoryMb += sign * resources.memoryMb
    r.workers += sign
    if (r.workers <= 0) this.reserved.delete(agentId)
    else this.reserved.set(agentId, r)
  }

  private track (handle: WorkerHandle): void {
    this.handles.set(handle.id, handle)
    void handle.exited.then(() => { this.handles.delete(handle.id) })
  }
}
