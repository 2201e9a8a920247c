import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { isMultiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { resolveConfig } from './config.ts'
import type { GridNodeInit, GridNodeConfig } from './config.ts'
import { resolveLogger } from './logger.ts'
import type { Logger } from './logger.ts'
import { createGridLibp2p } from './transport/libp2p.ts'
import type { GridLibp2p } from './transport/libp2p.ts'
import { checkMaterial } from './transport/mtls/material.ts'
import { removeThrowawayDataDir, resolveTls, throwawayDataDirService, withThrowawayDataDir } from './node-tls.ts'
import { SeedDialer } from './transport/seed-dialer.ts'
import { STATUS_PROTOCOL, statusHandler } from './control/status.ts'
import type { StatusRequest, StatusReport } from './control/status-report.ts'
import { Membership } from './membership/membership.ts'
import type { Member } from './membership/member.ts'
import { Rejections } from './transport/rejections.ts'
import type { RejectedCount } from './transport/rejections.ts'
import type { GridNodeEvents } from './node-events.ts'
import { nodeEventRelay } from './node-event-relay.ts'
import type { Strategy } from './checks/values.ts'
import { AgentRole } from './agent/agent-role.ts'
import { Workers } from './owner/workers.ts'
import { checkOption, checkSignalOption, shown } from './checks/check.ts'
import type { SignalOption } from './checks/check.ts'
import { strategy as strategyPiece, weight as weightPiece } from './checks/values.ts'
import { CONTROL_PROTOCOL, controlHandler } from './control/control.ts'
import { PipelineRun } from './pipeline/run.ts'
import { runsService } from './pipeline/runs-service.ts'
import type { PipelineInit } from './pipeline/types.ts'
import { defaultDataDir, prepareDataDir } from './data-dir.ts'
import { AddonRegistry } from './addons/registry.ts'
import { Channels } from './channels/channels.ts'
import type { Channel } from './channels/channel.ts'
import { channelClientHandler } from './channels/client-protocol.ts'
import { CLIENT_PROTOCOL } from './channels/schema.ts'
import type { Addon, AddonInfo } from './addons/addon.ts'
import { ServiceList } from './lifecycle/service-list.ts'
import type { Service } from './lifecycle/service.ts'
import { libp2pService } from './lifecycle/libp2p-service.ts'
import { protocolHandlers } from './lifecycle/protocol-handlers.ts'
import type { PeerCredentials } from './trust/credentials.ts'
import { NodeTrust } from './trust/node-trust.ts'
import { checkOwnRoles } from './trust/own-roles.ts'
import { ANY_ROLE } from './trust/guard.ts'
import { Tasks } from './tasks/tasks.ts'
import { JOURNAL_FILE } from './tasks/journal.ts'
import type { Task } from './tasks/task.ts'
import type { Session } from './tasks/session.ts'
import type { SessionOptions, TaskOptions } from './tasks/types.ts'
import { TASKS_PROTOCOL, MAX_WAIT_MS } from './tasks/protocol-schema.ts'
import { nodeTasksService } from './node-tasks-service.ts'
import type { TasksOverview } from './tasks/stats.ts'
import { DeploymentsPart } from './deployments/node-part.ts'
import type { DeployOptions } from './deployments/node-part.ts'
import type { DeploymentView } from './deployments/types.ts'
import { DEPLOYMENTS_PROTOCOL, DEPLOYMENTS_ROLES, deploymentsHandler } from './deployments/protocol.ts'
import { ConfigError, NodeStoppedError } from './errors.ts'
import type { RefusedCount } from './transport/refused-connections.ts'

/**
 * A grid member: the same daemon on every machine, embeddable in any
 * Node.js app. Start it with `GridNode.start(init)`, stop it with `stop()`.
 */
export class GridNode extends EventEmitter<GridNodeEvents> {
  readonly config: GridNodeConfig
  readonly log: Logger
  /** The host's logger: parts with a component of their own are its children (a child of `log` would repeat the key). */
  private readonly root: Logger
  private readonly libp2p: GridLibp2p
  private readonly credentials: PeerCredentials
  private readonly trust: NodeTrust
  private readonly trustServices: ReturnType<NodeTrust['services']>
  private readonly seeds: SeedDialer
  private readonly membership: Membership
  private readonly agent?: AgentRole
  /** Spawn workers on the grid's agents: `node.workers.spawn({ stage, module, resources })`. */
  readonly workers: Workers
  /** Tasks and sessions owned by this node, and the task names clients may run (`register`). */
  readonly tasks: Tasks
  private readonly runs = new Set<PipelineRun>()
  /** Pipeline deployments grid-wide: `list()`, `status(name)`, `stop(name)`, `remove(name)` (and `node.deploy`). */
  readonly deployments: DeploymentsPart
  private readonly addons: AddonRegistry
  private readonly channels: Channels
  private readonly services: ServiceList
  /** Bad requests on the control, status and channel-client protocols. */
  private readonly rejections: Rejections
  private stopping?: Promise<void>

  private constructor (config: GridNodeConfig, libp2p: GridLibp2p, log: Logger, root: Logger, addons: GridNodeInit['addons'], keyPem: string, trust: NodeTrust) {
    super()
    this.config = config
    this.libp2p = libp2p
    this.trust = trust
    this.credentials = trust.credentials
    const credentials = trust.credentials
    this.log = log
    this.root = root
    this.seeds = new SeedDialer(libp2p, log)
    this.rejections = new Rejections(log)
    this.membership = new Membership({ libp2p, pubsub: libp2p.services.pubsub, roles: credentials }, config.membership, root)
    const dataDir = config.dataDir ?? defaultDataDir(libp2p.peerId.toString(), config.stateHome)
    this.trustServices = trust.services(libp2p, dataDir)
    if (config.agent != null) this.agent = new AgentRole(libp2p, this.membership, config.agent, dataDir, root, process.cwd(), credentials)
    this.workers = new Workers(libp2p, this.membership, this.agent, root, credentials)
    this.tasks = new Tasks(libp2p.peerId.toString(), {
      spawn: async (options, { signal }) => await this.workers.spawn(options, { signal }),
      capacity: (resources, limit) => this.workers.capacityFor(resources, limit),
      log: root.child({ component: 'tasks' })
    }, config.tasks, {
      file: join(dataDir, JOURNAL_FILE),
      // an agent has made the data dir ready (its mode may let the worker user's group reach the module cache)
      prepare: async () => { if (this.agent == null) await prepareDataDir(dataDir, log) }
    })
    this.addons = new AddonRegistry(this, libp2p, root, credentials)
    this.channels = new Channels(libp2p, this.membership, config.channels, root, keyPem, credentials, () => config.peers.length === 0)
    this.deployments = new DeploymentsPart({ self: this.peerId, dataDir, channel: name => this.channels.channel(name, { internal: true }), members: () => this.members(), selfRevoked: () => this.ownCertificateRevoked(), pipeline: (name, init) => this.pipeline(name, init), log: root, init: config.deployments })
    this.services = new ServiceList(this.serviceList(addons ?? []), { log, stopTimeoutMs: config.stopTimeoutMs })
  }

  /**
   * Validates `init`, starts libp2p on mTLS and every service in order, then
   * the add-ons of `init.addons`, and begins joining `peers`. If any part
   * fails, or `signal` aborts, what started is stopped in reverse (the port
   * closes) and the error (the signal's reason) is rethrown; once started, the signal is let go.
   */
  static async start (init: GridNodeInit, options: SignalOption = {}): Promise<GridNode> {
    // not a key of init: init is the node's configuration for its whole life, the signal only this call's
    const signal = checkSignalOption('start', options)
    signal?.throwIfAborted()
    const config = resolveConfig(init)
    const root = resolveLogger(init.logger)
    const log = root.child({ component: 'gridd' })
    const tls = await resolveTls(config, log)
    signal?.throwIfAborted()
    checkMaterial(tls)
    checkOwnRoles(tls.cert, { agent: config.agent != null })
    // presented whenever it dials (the seeds, the members it joins): without the roles there, they refuse it membership and channel sync
    if (tls.outbound != null) checkOwnRoles(tls.outbound.cert, { agent: config.agent != null, what: 'this node\'s outbound certificate (tls.outbound, GRID_TLS_CLIENT_CERT)' })
    // throws CrlError (exit 2) if `crl` does not verify against the CA
    const trust = new NodeTrust({ tls, crl: config.crl, certificateCheckMs: config.certificateCheckMs }, root)
    // created stopped: the service list starts it, so it also stops it on any failure
    const libp2p = await createGridLibp2p({ host: config.host, port: config.port, announce: config.announce.map(String), tls, log, pingIntervalMs: config.pingIntervalMs, start: false, credentials: trust.credentials, isRevoked: trust.isRevoked, refused: trust.refused })
    const node = new GridNode(await withThrowawayDataDir(config, tls), libp2p, log, root, init.addons, tls.key, trust)
    // an aborted start may give up before the throwaway data dir's part counts as started: removed here too
    await node.services.start({ signal }).catch(async (err: unknown) => { await removeThrowawayDataDir(node.config); throw err })
    return node
  }

  /** This node's peer id: the key of its certificate. */
  get peerId (): string {
    return this.libp2p.peerId.toString()
  }

  /** Addresses other members can dial, each ending in /p2p/<peerId>. */
  get addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  /** Peer ids this node has an open connection to (members and CLI clients). */
  connectedPeers (): string[] {
    return this.libp2p.getPeers().map(p => p.toString())
  }

  /** Bad messages from peers dropped so far, by protocol and reason (`gridd_rejected_messages_total`). */
  rejectedMessages (): RejectedCount[] {
    return [...this.membership.rejected(), ...this.channels.rejected(), ...(this.agent?.rejected() ?? []), ...this.trust.rejected(), ...this.rejections.counters(), ...this.addons.rejected()]
  }

  /** Connections refused at the handshake so far, by direction and reason (`gridd_refused_connections_total`). */
  refusedConnections (): RefusedCount[] {
    return this.trust.refused.counters()
  }

  /** When this node's certificate expires (ms since the epoch): `gridd_certificate_expiry_seconds`. */
  certificateNotAfter (): number {
    return this.trust.ownNotAfter
  }

  /** Bytes of this agent's module cache of shipped code, in whole blocks as `moduleCacheMb` counts them; 0 on a node that is not an agent. */
  moduleCacheBytes (): number {
    return this.agent?.moduleCacheBytes ?? 0
  }

  /** Whether the newest CRL this node holds lists `serial` (normalized lower-case hex). */
  certificateRevoked (serial: string): boolean {
    return this.trust.isRevoked(serial)
  }

  /** Whether the newest CRL this node holds lists this node's own certificate: then it stands down from the grid's deployments and schedules. */
  ownCertificateRevoked (): boolean {
    return this.trust.ownRevoked()
  }

  /** The member table: every other member this node knows of, never itself. */
  members (): Member[] {
    return this.membership.members()
  }

  /** This node's own entry, as it gossips it. */
  self (): Member {
    return this.membership.selfMember()
  }

  /** Connects to another member now (a `host:port` is parsed by the caller). */
  async dial (address: Multiaddr, options: SignalOption = {}): Promise<string> {
    this.checkRunning()
    if (!isMultiaddr(address)) throw new ConfigError('address', `must be a Multiaddr (parsePeerAddress makes one of host:port), got ${shown(address)}`)
    const connection = await this.libp2p.dial(address, { signal: checkSignalOption('dial', options) })
    return connection.remotePeer.toString()
  }

  /** Placement weight of this node, gossiped at once (-1e6 to 1e6; negative flips the strategy; 0 drains). */
  setWeight (weight: number): void {
    this.checkRunning()
    this.membership.updateSelf({ weight: checkOption('weight', weightPiece, weight) })
  }

  /** Placement strategy of this node, gossiped at once. */
  setStrategy (strategy: Strategy): void {
    this.checkRunning()
    this.membership.updateSelf({ strategy: checkOption('strategy', strategyPiece, strategy) })
  }

  /** Runs a pipeline owned by this node: entry -> stages (workers on the grid's agents) -> sink. */
  pipeline<In = unknown, Out = unknown> (name: string, init: PipelineInit<In, Out>): PipelineRun<In, Out> {
    // nothing would cancel it: the node's stop has passed the runs it stops
    this.checkRunning()
    const run = new PipelineRun<In, Out>(name, init, {
      spawn: async (options, { signal }) => await this.workers.spawn(options, { signal }),
      capacity: (resources, limit) => this.workers.capacityFor(resources, limit)
    }, this.log)
    this.runs.add(run)
    this.notify('pipeline:start', run)
    void run.done.finally(() => { this.runs.delete(run) }).catch(() => {})
    return run
  }

  /**
   * Stores the pipeline definition `file` exports (source and sink factories, stages) grid-wide
   * as deployment `name`'s next version: one member runs it, another takes over when it fails.
   */
  async deploy (name: string, file: string, options?: DeployOptions): Promise<DeploymentView> {
    this.checkRunning()
    return await this.deployments.deploy(name, file, options)
  }

  /**
   * Extends this node with an add-on (see `defineAddon`): refused with a typed error if the name is taken or a
   * dependency is not in use; an add-on that throws in `start` rejects here and leaves the node as it was, and so
   * does one still starting when `signal` aborts (rejected with its reason; the add-on's `ctx.signal` aborted).
   * Resolves to the add-on's name and `url`, where it serves (the bound port: `port: 0` finds a free one).
   */
  async use<O> (addon: Addon<O>, options?: O, useOptions: SignalOption = {}): Promise<AddonInfo> {
    return await this.addons.use(addon, options as O, { signal: checkSignalOption('use', useOptions) })
  }

  /** Names of the add-ons in use, in start order. */
  addonNames (): string[] {
    return this.addons.names()
  }

  /** The add-on `name` in use (by `use` or `GridNode.start`'s `addons`): its name and `url`, as `use` resolves; undefined if none. */
  addon (name: string): AddonInfo | undefined {
    return this.addons.info(name)
  }

  /**
   * The grid-wide replicated map `name` (created on first use, synced from members): `get`, `set`, `delete`,
   * `entries`, `size`, events `set`, `delete`, `change`. Last writer wins by hybrid logical clock.
   */
  channel (name: string): Channel {
    return this.channels.channel(name)
  }

  /**
   * Runs `module` (a stage module: its default export gets `input` and a `ctx` with `signal` and `progress`) on a
   * worker of the grid and returns its result, or throws: TaskError (the task threw; its remote stack kept),
   * TaskTimeoutError, TaskCancelledError, TaskLostError, ResultTooLargeError, NodeStoppedError (ERR_NODE_STOPPED;
   * retryable: the node stopped gracefully, and its journal resumes the task at the next start). Argon's `queue`.
   */
  run (module: string | URL, input?: unknown, options?: TaskOptions): Promise<unknown> {
    // no async layer of its own: a run's promise is one of the per-task costs (tasks.run never throws synchronously)
    if (this.stopping != null) return Promise.reject(new NodeStoppedError())
    return this.tasks.run(module, input, options)
  }

  /** Queues a task and returns its handle at once (`result()`, `cancel()`, `status`, events). Argon's `defer`. */
  submit (module: string | URL, input?: unknown, options?: TaskOptions): Task {
    this.checkRunning()
    return this.tasks.submit(module, input, options)
  }

  /** A group of tasks under default options (maxRetries, timeoutMs, priority): ArmoniK's session. */
  session (options?: SessionOptions): Session {
    this.checkRunning()
    return this.tasks.session(options)
  }

  /** The tasks this node owns, as the metrics add-on and the dashboard show them. */
  tasksOverview (): TasksOverview {
    return this.tasks.overview()
  }

  /** The pipeline runs this node owns that have not finished yet. */
  pipelines (): PipelineRun[] {
    return [...this.runs]
  }

  /** What `grid status` prints: the live member table; `all` adds the members remembered after they left it. */
  status (request: StatusRequest = {}): StatusReport {
    const members = this.members()
    return { self: this.self(), members: request?.all === true ? [...members, ...this.membership.rememberedMembers()] : members }
  }

  /**
   * Stops every service in reverse start order under one deadline
   * (`stopTimeoutMs`); what has not stopped by then is destroyed (connections
   * dropped, workers killed). Safe to call twice.
   */
  async stop (): Promise<void> {
    // at once, though the agent stops last: its workers may already be dying of the same stop (a signal to
    // the whole process group), and one still in setup must not count as the stage's failed setup
    this.agent?.beginStop()
    this.stopping ??= this.services.stop().then(() => { this.log.info('grid node stopped') })
    await this.stopping
  }

  /** Tells the app's listeners; one that throws is logged, not thrown into membership (skipping the node's own listeners after it) or libp2p (an uncaught exception). */
  private notify<E extends keyof GridNodeEvents> (event: E, ...args: GridNodeEvents[E]): void {
    try {
      this.emit(event, ...(args as never))
    } catch (err) {
      this.log.error({ err, event }, `a "${event}" listener threw; the node goes on`)
    }
  }

  /** NodeStoppedError once `stop()` was called: what the call would start, nothing would stop. */
  private checkRunning (): void { if (this.stopping != null) throw new NodeStoppedError() }

  /** The node's parts in start order; stop runs them in reverse. */
  private serviceList (addons: NonNullable<GridNodeInit['addons']>): Service[] {
    const dataDir = this.config.dataDir ?? defaultDataDir(this.peerId, this.config.stateHome)
    const tasksService = nodeTasksService({ tasks: this.tasks, self: this.peerId, credentials: this.credentials, dataDir, agent: this.agent != null, libp2p: this.libp2p, membership: this.membership, nodeLog: this.log, log: this.root.child({ component: 'tasks-protocol' }), rejections: this.rejections })
    const services: Array<Service | undefined> = [
      throwawayDataDirService(this.config),
      this.trustServices.load,
      libp2pService(this.libp2p, { host: this.config.host, port: this.config.port }),
      this.trustServices.enforce,
      // the handshake recorded the certificate before libp2p announces the connection
      nodeEventRelay(this.libp2p, this.membership, this.trust.crls, (event, ...args) => { this.notify(event, ...args) }, peer => this.credentials.nameOf(peer)),
      { name: 'membership', start: async () => { await this.membership.start() }, stop: async () => { await this.membership.stop() }, destroy: () => { this.membership.destroy() } },
      // stopping channels waits on no peer: destroying them is the same
      { name: 'channels', start: async () => { await this.channels.start() }, stop: async () => { await this.channels.stop() }, destroy: async () => { await this.channels.stop() } },
      this.agent == null ? undefined : { name: 'agent', start: async () => { await this.agent?.start() }, stop: async () => { await this.agent?.stop() }, destroy: async () => { await this.agent?.destroy() } },
      protocolHandlers('control, status and channel client protocols', this.libp2p, this.credentials, {
        [CONTROL_PROTOCOL]: {
          roles: ['admin'],
          maxInboundStreams: 4,
          deadlineMs: 10_000,
          handler: controlHandler({
            setWeight: w => { this.setWeight(w) },
            setStrategy: s => { this.setStrategy(s) },
            placement: () => ({ weight: this.self().weight, strategy: this.self().strategy })
          }, this.log, this.rejections)
        },
        [STATUS_PROTOCOL]: { roles: ANY_ROLE, maxInboundStreams: 4, deadlineMs: 10_000, handler: statusHandler(request => this.status(request), this.rejections) },
        // reads for any role that may read (client, member, admin); writes checked per request (member)
        [CLIENT_PROTOCOL]: { roles: ['client', 'member', 'admin'], maxInboundStreams: 16, deadlineMs: 60_000, handler: channelClientHandler({ read: (name, peer) => this.channels.forRead(name, peer), write: name => this.channel(name) }, this.credentials, this.rejections) }
      }),
      { name: 'workers', start: () => { this.workers.start() }, stop: async () => { await this.workers.stop() }, destroy: () => { this.workers.destroy() } },
      runsService(this.runs),
      { name: 'deployments', start: async () => { await this.deployments.open() }, stop: () => { this.deployments.close() }, destroy: () => { this.deployments.close() } },
      protocolHandlers('deployments protocol', this.libp2p, this.credentials, {
        [DEPLOYMENTS_PROTOCOL]: { roles: DEPLOYMENTS_ROLES, maxInboundStreams: 8, deadlineMs: 30_000, handler: deploymentsHandler(() => this.deployments.api(), this.credentials, this.rejections) }
      }),
      // after workers in start order, so stopped before them: tasks are cancelled, then their pools' workers go
      { name: 'tasks', start: async ({ signal }) => { await this.tasks.start({ signal }) }, stop: async () => { await this.tasks.stop() }, destroy: async () => { await this.tasks.stop() } },
      // after tasks: unregistered before they stop, so no remote submit races the stop; what the tasks resumed
      // from the journal is charged to its submitters' budgets before the first request is answered
      protocolHandlers('tasks protocol', this.libp2p, this.credentials, {
        [TASKS_PROTOCOL]: { roles: ['client', 'member', 'admin'], maxInboundStreams: 64, deadlineMs: MAX_WAIT_MS + 30_000, handler: tasksService.handler() }
      }, () => { tasksService.holdResumed() }),
      // stopping aborts every seed dial at once: destroying is the same
      { name: 'seeds', start: () => { this.log.info({ peerId: this.peerId, addresses: this.addresses, dataDir: this.config.dataDir }, 'grid node listening'); this.seeds.start(this.config.peers) }, stop: async () => { await this.seeds.stop() }, destroy: async () => { await this.seeds.stop() } },
      {
        name: 'add-ons',
        // add-ons last: they may use everything above, and stop first
        // each pair came from the caller together: the options are that add-on's own (Addon<never> holds any add-on)
        start: async ({ signal }) => { for (const [addon, options] of addons) await this.use(addon, options as never, { signal }) },
        stop: async () => { await this.addons.stopAll() },
        destroy: async () => { await this.addons.destroy() }
      }
    ]
    return services.filter(s => s != null)
  }
}
