import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { requestJson } from '../transport/json-stream.ts'
import { SPAWN_PROTOCOL, spawnFailureError, spawnResponseSchema } from '../wire/spawn-protocol.ts'
import type { SpawnResponseMessage } from '../wire/spawn-protocol.ts'
import { checkModulePath, readModule, readStoredModule } from './module-source.ts'
import type { ShippableModule } from './module-source.ts'
import { RemoteWorker } from './remote-worker.ts'
import { localHandle } from './local-handle.ts'
import { retryPlacement } from './placement-retry.ts'
import type { WorkerHandle } from './worker-handle.ts'
import type { AgentRole } from '../agent/agent-role.ts'
import type { Membership } from '../membership/membership.ts'
import type { Member } from '../membership/member.ts'
import { rankAgents, fitCount } from '../placement/index.ts'
import type { AgentLoad, Shortfall } from '../placement/index.ts'
import { AgentFullError, ERR_AGENT_FULL, ERR_MODULE_MISSING, ERR_MODULE_NOT_ALLOWED, ERR_RATE_LIMITED, ERR_SPAWN_REFUSED, GridError, NoCapacityError, NodeStoppedError, PeerUnreachableError, SpawnRefusedError } from '../errors.ts'
import { Reservations } from './reservations.ts'
import { UnreachableAgents } from './unreachable-agents.ts'
import { checkKnownKeys, checkOption } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { concurrency, positiveNumber, stageName } from '../checks/values.ts'
import { checkResources } from '../checks/resources.ts'
import type { Logger } from '../logger.ts'
import type { RoleCheck } from '../trust/credentials.ts'

export interface SpawnOptions {
  stage: string
  /** Path of the stage module on this machine; shipped to agents that lack it. */
  module: string
  resources?: { cpu?: number, memoryMb?: number }
  env?: Record<string, string>
  /** Items the worker processes at once. Default 1. */
  concurrency?: number
  /**
   * The module is another peer's code (a task module a member shipped to this node): on this node too it
   * runs as shipped code — from the agent's verified cache, bare imports from its own packages — never in place.
   */
  foreign?: boolean
}

const SPAWN_TIMEOUT_MS = 15_000
const SPAWN_KEYS: KnownKeys<SpawnOptions> = { stage: true, module: true, resources: true, env: true, concurrency: true, foreign: true }
/** How long killing a worker nobody will attach to may hold up the spawn's rejection. */
const KILL_UNATTACHED_TIMEOUT_MS = 5000
/** Refusals that pass the spawn to the next agent; any other failure ends it. An agent reading too many spawn
 * requests of this node's at once (large modules shipped to a cold cache) answers ERR_RATE_LIMITED: another
 * agent, or the placement's next try, takes it. */
const REFUSALS = new Set([ERR_AGENT_FULL, ERR_SPAWN_REFUSED, ERR_MODULE_MISSING, ERR_MODULE_NOT_ALLOWED, ERR_RATE_LIMITED])

/**
 * `node.workers`: spawn a stage worker on the least-burdened agent of the
 * grid (this node included, if it is an agent) and get a handle that works
 * the same wherever it landed.
 */
export class Workers {
  private readonly libp2p: Libp2p
  private readonly membership: Membership
  private readonly agent?: AgentRole
  private readonly roles: Pick<RoleCheck, 'has' | 'get'>
  private readonly log: Logger
  private readonly handles = new Map<string, WorkerHandle>()
  /** Spawns in flight (and just done), per agent: gossip has not counted them yet. */
  private readonly reservations = new Reservations()
  private readonly unreachable = new UnreachableAgents()
  private stopped = false

  /** @internal the node makes it: its parts' types are libp2p's, whose declarations need the DOM's, so it stays out of the published ones */
  constructor (libp2p: Libp2p, membership: Membership, agent: AgentRole | undefined, log: Logger, roles: Pick<RoleCheck, 'has' | 'get'>) {
    this.libp2p = libp2p
    this.roles = roles
    this.membership = membership
    this.agent = agent
    this.log = log.child({ component: 'workers' })
  }

  /**
   * Tries agents in placement order; one that refuses (it filled up meanwhile) passes to the next.
   * Nothing fits: NoCapacityError at once, or with `placementTimeoutMs` after trying again (backing
   * off) until an agent has room or the time is up.
   */
  async spawn (options: SpawnOptions, { signal, placementTimeoutMs }: { signal?: AbortSignal, placementTimeoutMs?: number } = {}): Promise<WorkerHandle> {
    // before any work (bundling, placement): a stopped node has no one to stop the worker, an aborted signal wants none
    if (this.stopped) throw new NodeStoppedError()
    signal?.throwIfAborted()
    checkKnownKeys('options', options, SPAWN_KEYS, '')
    checkResources('resources', options.resources)
    if (placementTimeoutMs == null) return await this.spawnOnce(options, signal)
    checkOption('placementTimeoutMs', positiveNumber, placementTimeoutMs)
    return await retryPlacement(async () => await this.spawnOnce(options, signal), { timeoutMs: placementTimeoutMs, signal })
  }

  private async spawnOnce (options: SpawnOptions, signal?: AbortSignal): Promise<WorkerHandle> {
    const resources = { cpu: options.resources?.cpu ?? 1, memoryMb: options.resources?.memoryMb ?? 0 }
    // the spawn protocol's own rules: an agent never drops a request as malformed
    checkOption('stage', stageName, options.stage)
    if (options.concurrency !== undefined) checkOption('concurrency', concurrency, options.concurrency)
    // local workers import the file itself; remote ones get it bundled (once, on first need)
    const modulePath = await checkModulePath(options.module)
    let shipped: Promise<ShippableModule> | undefined
    // another peer's code ships as it was stored: bundling it here would inline this node's files it imports
    const shippable = async (): Promise<ShippableModule> => await (shipped ??= options.foreign === true ? readStoredModule(modulePath, options.stage) : readModule(modulePath, options.stage))
    const { ranked, shortfalls } = rankAgents(resources, this.candidates())
    const refusals: Shortfall[] = []
    for (const agent of this.unreachable.order(this.vouchedFirst(ranked), performance.now())) {
      signal?.throwIfAborted()
      // concurrent spawns would all rank agents from the same gossiped load and
      // stampede one agent: count this one against it until gossip catches up
      const reservation = this.reservations.reserve(agent.id, resources)
      try {
        const handle = agent.id === this.libp2p.peerId.toString()
          ? (options.foreign === true ? await this.spawnLocalShipped(options, await shippable(), resources) : this.spawnLocal(options, modulePath, resources))
          : await this.spawnRemote(agent.id, options, await shippable(), resources, signal)
        this.track(handle)
        // this node's own load is updated synchronously; a remote agent's arrives by gossip
        // shortly, unless the worker is already gone (it then never counts again)
        if (agent.id === this.libp2p.peerId.toString()) reservation.release()
        else reservation.holdUntil(handle.exited)
        return handle
      } catch (err) {
        reservation.release()
        if (err instanceof PeerUnreachableError) {
          // it could not be dialled, or went away mid-request: another agent can take the worker (this one is tried last for a while)
          this.unreachable.failed(agent.id, performance.now())
          refusals.push({ agentId: agent.id, lacks: [err.message] })
          this.log.warn({ agent: agent.id, err }, 'could not dial the agent to spawn a worker: trying the next one')
          continue
        }
        if (!(err instanceof GridError && REFUSALS.has(err.code))) throw err
        refusals.push({ agentId: agent.id, lacks: err instanceof AgentFullError ? err.lacks : [err.message] })
        this.log.debug({ agent: agent.id, err }, 'spawn refused, trying the next agent')
      }
    }
    throw new NoCapacityError([...shortfalls, ...refusals])
  }

  /** How many more workers needing `resources` the grid's alive agents can take now (at most `limit`). */
  capacityFor (resources: SpawnOptions['resources'] = {}, limit?: number): number {
    return fitCount({ cpu: resources.cpu ?? 1, memoryMb: resources.memoryMb ?? 0 }, this.candidates(), limit)
  }

  /** Handles this node spawned that are still running. */
  list (): WorkerHandle[] {
    return [...this.handles.values()]
  }

  /** Follows membership: an agent that fails or leaves takes its workers' handles with it. */
  start (): void {
    this.membership.on('member:fail', this.onAgentFailed)
    this.membership.on('member:leave', this.onAgentLeft)
  }

  /** Graceful: asks every agent to drain and stop this node's workers. */
  async stop (): Promise<void> {
    this.stopped = true
    this.unsubscribe()
    await Promise.allSettled([...this.handles.values()].map(async h => await h.kill({ graceful: true })))
  }

  /** Immediate: remote handles are given up (their agents kill workers whose stream closes). */
  destroy (): void {
    this.stopped = true
    this.unsubscribe()
    for (const handle of this.handles.values()) if (handle instanceof RemoteWorker) handle.lost('this node is stopping')
  }

  /** Membership says an agent is gone: its workers' handles fail now, not at some timeout. */
  agentLost (agentId: string, detail: string, options: { left?: boolean } = {}): void {
    for (const handle of this.handles.values()) {
      if (handle.agentId === agentId && handle instanceof RemoteWorker) handle.lost(detail, options)
    }
  }

  private readonly onAgentFailed = (member: Member): void => { this.agentLost(member.id, 'it failed') }
  private readonly onAgentLeft = (member: Member): void => { this.agentLost(member.id, 'it left the grid', { left: true }) }

  private unsubscribe (): void {
    this.membership.off('member:fail', this.onAgentFailed)
    this.membership.off('member:leave', this.onAgentLeft)
  }

  /**
   * `ranked` with the agents whose certificate this owner has seen (it connected to them once) first:
   * one known only from gossip may not exist (a member can sign heartbeats with keys it mints, each a
   * member claiming any capacity), and every spawn would wait for its dial to fail before a real agent.
   * In a grid within the full mesh every agent is connected, so nothing changes there.
   */
  private vouchedFirst (ranked: AgentLoad[]): AgentLoad[] {
    const self = this.libp2p.peerId.toString()
    const seen = (agent: AgentLoad): boolean => agent.id === self || this.roles.get(agent.id) != null
    return ranked.every(seen) ? ranked : [...ranked.filter(seen), ...ranked.filter(agent => !seen(agent))]
  }

  private candidates (): AgentLoad[] {
    const self = this.membership.selfMember()
    const members: Member[] = [self, ...this.membership.members()]
    // an agent must hold the agent role in its certificate (our own was checked at start); one we have not
    // connected to yet is a candidate: spawnRemote connects first and ships nothing to a certificate without it
    const certified = (m: Member): boolean => m.id === self.id || this.roles.get(m.id) == null || this.roles.has(m.id, 'agent')
    return members.filter(m => m.role === 'agent' && m.state === 'alive' && certified(m)).map(m => {
      const reserved = this.reservations.of(m.id)
      return {
        id: m.id,
        capacity: { cpu: m.capacity.cpu, memoryMb: m.capacity.memoryMb },
        maxWorkers: m.load.maxWorkers,
        used: { cpu: m.load.slotsUsed + reserved.cpu, memoryMb: m.load.memoryUsedMb + reserved.memoryMb, workers: m.load.workers + reserved.workers },
        weight: m.weight,
        strategy: m.strategy
      }
    })
  }

  private spawnLocal (options: SpawnOptions, modulePath: string, resources: { cpu: number, memoryMb: number }): WorkerHandle {
    if (this.agent == null) throw new SpawnRefusedError('this node is not an agent')
    const worker = this.agent.spawner.spawn({ stage: options.stage, modulePath, resources, env: options.env, concurrency: options.concurrency })
    return localHandle(worker, this.libp2p.peerId.toString())
  }

  private async spawnLocalShipped (options: SpawnOptions, module: ShippableModule, resources: { cpu: number, memoryMb: number }): Promise<WorkerHandle> {
    if (this.agent == null) throw new SpawnRefusedError('this node is not an agent')
    const self = this.libp2p.peerId.toString()
    const worker = await this.agent.spawnShipped({ stage: options.stage, module, resources, env: options.env, concurrency: options.concurrency }, self)
    return localHandle(worker, self)
  }

  private async spawnRemote (agentId: string, options: SpawnOptions, module: ShippableModule, resources: { cpu: number, memoryMb: number }, signal?: AbortSignal): Promise<WorkerHandle> {
    const agent = peerIdFromString(agentId)
    await this.membership.teachAddresses(agentId)
    const timeout = AbortSignal.timeout(SPAWN_TIMEOUT_MS)
    const opts = { signal: signal == null ? timeout : AbortSignal.any([signal, timeout]) }
    try {
      await this.libp2p.dial(agent, opts)
    } catch (err) {
      signal?.throwIfAborted()
      throw new PeerUnreachableError(`agent ${agentId}`, { cause: err })
    }
    this.unreachable.reached(agentId)
    // the stage's code, env and items go only to a peer whose certificate makes it an agent
    if (!this.roles.has(agentId, 'agent')) throw new SpawnRefusedError(`peer ${agentId} does not hold the agent role in its certificate: nothing shipped to it`)
    signal?.throwIfAborted()
    // Once sent, a spawn runs to its reply (bounded by its own timeout, not the caller's signal): the
    // agent may have forked the worker already, and one nobody attaches to would hold its capacity
    // until the agent's attach timeout. A worker that arrives after the caller gave up is killed.
    const sent = { signal: timeout }
    const request = { op: 'spawn', stage: options.stage, module: { path: module.path, sha256: module.sha256 }, resources, env: options.env, concurrency: options.concurrency }
    // an agent that dies, is cut off or stalls past the timeout mid-request is as good as unreachable: the
    // worker goes to the next agent (one it forked meanwhile dies with it, or at its attach timeout)
    const ask = async (body: unknown): Promise<SpawnResponseMessage> => await requestJson(this.libp2p, agent, SPAWN_PROTOCOL, body, spawnResponseSchema, sent).catch((err: unknown) => {
      throw err instanceof GridError ? err : new PeerUnreachableError(`agent ${agentId} during the spawn`, { cause: err })
    })
    let reply = await ask(request)
    if (!reply.ok && reply.code === ERR_MODULE_MISSING && signal?.aborted !== true) {
      // the agent lacks this exact module: ship its source (content-addressed, cached there)
      reply = await ask({ ...request, module: { ...request.module, source: module.source } })
    }
    if (!reply.ok) {
      signal?.throwIfAborted()
      throw spawnFailureError(reply)
    }
    if (reply.worker == null) throw new SpawnRefusedError('the agent answered without a worker')
    if (signal?.aborted === true) {
      await this.killUnattached(agent, reply.worker.id)
      signal.throwIfAborted()
    }
    try {
      return await RemoteWorker.attach(this.libp2p, agent, reply.worker, opts)
    } catch (err) {
      await this.killUnattached(agent, reply.worker.id)
      throw err
    }
  }

  /** A worker spawned for a caller that is gone (or that could not be attached): killed now, not at the agent's attach timeout. */
  private async killUnattached (agent: PeerId, workerId: string): Promise<void> {
    try {
      await requestJson(this.libp2p, agent, SPAWN_PROTOCOL, { op: 'kill', id: workerId, graceful: false }, spawnResponseSchema, { signal: AbortSignal.timeout(KILL_UNATTACHED_TIMEOUT_MS) })
    } catch (err) {
      // the agent still kills it at its attach timeout
      this.log.debug({ agent: agent.toString(), worker: workerId, err }, 'killing a worker that will not be attached failed')
    }
  }

  private track (handle: WorkerHandle): void {
    this.handles.set(handle.id, handle)
    void handle.exited.then(() => { this.handles.delete(handle.id) })
  }
}
