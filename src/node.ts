import { EventEmitter } from 'node:events'
import type { Multiaddr } from '@multiformats/multiaddr'
import { resolveConfig } from './config.ts'
import type { GridNodeInit, GridNodeConfig } from './config.ts'
import { resolveLogger } from './logger.ts'
import type { Logger } from './logger.ts'
import { createGridLibp2p } from './transport/libp2p.ts'
import type { GridLibp2p } from './transport/libp2p.ts'
import { checkMaterial } from './transport/mtls/material.ts'
import type { TlsMaterial } from './transport/mtls/material.ts'
import { SeedDialer } from './transport/seed-dialer.ts'
import { handleStatus } from './control/status.ts'
import { Membership } from './membership/membership.ts'
import type { Member, MemberEventType } from './membership/member.ts'
import type { Strategy } from './membership/schema.ts'
import { AgentRole } from './agent/agent-role.ts'
import { Workers } from './owner/workers.ts'
import { checkStrategy } from './agent/config.ts'
import { handleControl } from './control/control.ts'
import { PipelineRun } from './pipeline/run.ts'
import type { PipelineInit } from './pipeline/types.ts'
import { ConfigError } from './errors.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StatusReport } from './control/status.ts'
import { AddonRegistry } from './addons/registry.ts'
import { Channels } from './channels/channels.ts'
import type { Channel } from './channels/channel.ts'
import { handleChannelClient } from './channels/client-protocol.ts'
import type { Addon } from './addons/addon.ts'

export interface PeerEvent {
  /** The remote peer id (derived from its verified certificate). */
  id: string
}

/** Typed events of a GridNode (Node's EventEmitter: `node.on('peer:connect', ({ id }) => …)`). */
export type GridNodeEvents = {
  'peer:connect': [PeerEvent]
  'peer:disconnect': [PeerEvent]
  /** A pipeline run this node owns has started (add-ons use it to follow stages). */
  'pipeline:start': [PipelineRun]
} & { [E in MemberEventType]: [Member] }

/**
 * A grid member: the same daemon on every machine, embeddable in any
 * Node.js app. Start it with `GridNode.start(init)`, stop it with `stop()`.
 */
export class GridNode extends EventEmitter<GridNodeEvents> {
  readonly config: GridNodeConfig
  readonly log: Logger
  private readonly libp2p: GridLibp2p
  private readonly seeds: SeedDialer
  private readonly membership: Membership
  private readonly agent?: AgentRole
  /** Spawn workers on the grid's agents: `node.workers.spawn({ stage, module, resources })`. */
  readonly workers: Workers
  private readonly runs = new Set<PipelineRun>()
  private readonly addons: AddonRegistry
  private readonly channels: Channels
  private stopping?: Promise<void>

  private constructor (config: GridNodeConfig, libp2p: GridLibp2p, log: Logger, root: Logger) {
    super()
    this.config = config
    this.libp2p = libp2p
    this.log = log
    this.seeds = new SeedDialer(libp2p, log)
    this.membership = new Membership(libp2p, root, config.membership, event => {
      if (event.type === 'member:fail' || event.type === 'member:leave') this.workers.agentLost(event.member.id, event.type === 'member:fail' ? 'it failed' : 'it left the grid')
      // a member that appears or comes back may hold writes we missed, or miss ours
      if (event.type === 'member:join' || event.type === 'member:rejoin') this.channels.memberAppeared(event.member.id)
      this.emit(event.type, event.member)
    })
    const dataDir = config.dataDir ?? join(tmpdir(), 'gridd', libp2p.peerId.toString())
    if (config.agent != null) this.agent = new AgentRole(libp2p, this.membership, config.agent, dataDir, root)
    this.workers = new Workers(libp2p, this.membership, this.agent, root)
    this.addons = new AddonRegistry(this, libp2p, root)
    this.channels = new Channels(libp2p, () => this.members().filter(m => m.state === 'alive').map(m => m.id), config.channels, root)
  }

  /** Validates `init`, starts libp2p on mTLS, and begins joining `peers`. */
  static async start (init: GridNodeInit): Promise<GridNode> {
    const config = resolveConfig(init)
    const root = resolveLogger(init.logger)
    const log = root.child({ component: 'gridd' })
    const tls = await resolveTls(config, log)
    checkMaterial(tls)
    const libp2p = await createGridLibp2p({ host: config.host, port: config.port, tls, log, pingIntervalMs: config.pingIntervalMs })
    const node = new GridNode(config, libp2p, log, root)
    await node.run()
    try {
      for (const [addon, options] of init.addons ?? []) await node.use(addon, options)
    } catch (err) {
      await node.stop()
      throw err
    }
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

  /** The member table: every other member this node knows of, never itself. */
  members (): Member[] {
    return this.membership.members()
  }

  /** This node's own entry, as it gossips it. */
  self (): Member {
    return this.membership.selfMember()
  }

  /** Connects to another member now (a `host:port` is parsed by the caller). */
  async dial (address: Multiaddr, options: { signal?: AbortSignal } = {}): Promise<string> {
    const connection = await this.libp2p.dial(address, options)
    return connection.remotePeer.toString()
  }

  /** Placement weight of this node, gossiped at once (float; negative flips the strategy; 0 drains). */
  setWeight (weight: number): void {
    if (typeof weight !== 'number' || !Number.isFinite(weight)) throw new ConfigError('weight', `must be a finite number, got ${String(weight)}`)
    this.membership.updateSelf({ weight })
  }

  /** Placement strategy of this node, gossiped at once. */
  setStrategy (strategy: Strategy): void {
    this.membership.updateSelf({ strategy: checkStrategy(strategy, 'strategy') })
  }

  /** Runs a pipeline owned by this node: entry -> stages (workers on the grid's agents) -> sink. */
  pipeline<In = unknown, Out = unknown> (name: string, init: PipelineInit<In, Out>): PipelineRun {
    const run = new PipelineRun(name, init as PipelineInit, {
      spawn: async (options, { signal }) => await this.workers.spawn(options, { signal }),
      capacity: (resources, limit) => this.workers.capacityFor(resources, limit)
    }, this.log)
    this.runs.add(run)
    this.emit('pipeline:start', run)
    void run.done.finally(() => { this.runs.delete(run) }).catch(() => {})
    return run
  }

  /**
   * Extends this node with an add-on (see `defineAddon`): refused with a typed
   * error if the name is taken or a dependency is not in use; an add-on that
   * throws in `start` rejects here and leaves the node as it was.
   */
  async use<O> (addon: Addon<O>, options?: O): Promise<void> {
    await this.addons.use(addon, options as O)
  }

  /** Names of the add-ons in use, in start order. */
  addonNames (): string[] {
    return this.addons.names()
  }

  /**
   * The grid-wide replicated map `name` (created on first use, synced from
   * members): `get`, `set`, `delete`, `entries`, `size`, events `set`,
   * `delete`, `change`. Last writer wins by hybrid logical clock.
   */
  channel (name: string): Channel {
    return this.channels.channel(name)
  }

  /** The pipeline runs this node owns that have not finished yet. */
  pipelines (): PipelineRun[] {
    return [...this.runs]
  }

  /** What `grid status` prints. */
  status (): StatusReport {
    return { self: this.self(), members: this.members() }
  }

  /** Graceful and bounded: closes connections, waits at most `stopTimeoutMs`. Safe to call twice. */
  async stop (): Promise<void> {
    this.stopping ??= this.shutdown()
    await this.stopping
  }

  private async run (): Promise<void> {
    this.libp2p.addEventListener('peer:connect', evt => { this.emit('peer:connect', { id: evt.detail.toString() }) })
    this.libp2p.addEventListener('peer:disconnect', evt => { this.emit('peer:disconnect', { id: evt.detail.toString() }) })
    await this.membership.start()
    await this.agent?.start()
    await handleControl(this.libp2p, {
      setWeight: w => { this.setWeight(w) },
      setStrategy: s => { this.setStrategy(s) },
      placement: () => ({ weight: this.self().weight, strategy: this.self().strategy })
    }, this.log)
    await handleStatus(this.libp2p, () => this.status(), this.log)
    await this.channels.start()
    await handleChannelClient(this.libp2p, name => this.channel(name), this.log)
    this.log.info({ peerId: this.peerId, addresses: this.addresses }, 'grid node listening')
    this.seeds.start(this.config.peers)
  }

  private async shutdown (): Promise<void> {
    // add-ons first, in reverse order: they may still use everything below
    await this.addons.stopAll()
    await this.seeds.stop()
    for (const run of this.runs) run.cancel()
    await this.workers.stop()
    await this.agent?.stop()
    await this.channels.stop()
    await this.membership.stop()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), this.config.stopTimeoutMs) })
    const result = await Promise.race([Promise.resolve(this.libp2p.stop()).then(() => 'stopped' as const), timeout])
    clearTimeout(timer)
    if (result === 'timeout') this.log.warn({ timeoutMs: this.config.stopTimeoutMs }, 'graceful stop timed out; connections dropped')
    this.log.info('grid node stopped')
  }
}

async function resolveTls (config: GridNodeConfig, log: Logger): Promise<TlsMaterial> {
  if (config.tls != null) return config.tls
  // loaded only in dev mode: certificate generation pulls in @peculiar/x509 (~8 MB a node never needs otherwise)
  const { devCerts } = await import('./certs/dev.ts')
  const certs = await devCerts(config.devName ?? (config.port === 0 ? undefined : `node-${config.port}`))
  log.warn({ dir: certs.dir, name: certs.name }, 'DEV MODE: throwaway CA in a temp dir; only nodes on this machine can join (one-machine grid only)')
  return certs
}
