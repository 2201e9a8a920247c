import { resolveTasksConfig } from './tasks/config.ts'
import type { TasksInit } from './tasks/config.ts'
import type { TasksConfig } from './tasks/config.ts'
import type { Addon } from './addons/addon.ts'
import type { ChannelsInit } from './channels/config.ts'
import { resolveChannelsConfig } from './channels/config.ts'
import { isIP } from 'node:net'
import { isMultiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from './logger.ts'
import type { TlsMaterial } from './transport/mtls/material.ts'
import { parsePeerAddress } from './transport/address.ts'
import { ConfigError, GridError } from './errors.ts'
import { checkKnownKeys, checkOption, checkOptional, shown } from './checks/check.ts'
import type { KnownKeys } from './checks/check.ts'
import { flag, listenPort, timerMs } from './checks/values.ts'
import { resolveMembershipConfig } from './membership/config.ts'
import type { MembershipInit, MembershipConfig } from './membership/config.ts'
import { resolveAgentConfig } from './agent/config.ts'
import type { AgentInit, AgentConfig } from './agent/config.ts'
import type { RunnerInit } from './deployments/runner.ts'

export const DEFAULT_HOST = '0.0.0.0'
export const DEFAULT_PORT = 4100
export const DEFAULT_STOP_TIMEOUT_MS = 5000
export const DEFAULT_CERTIFICATE_CHECK_MS = 5000

/** Options of `GridNode.start`. Every field is optional but one of `tls` or `dev`. */
export interface GridNodeInit extends MembershipInit {
  /** Listen address (an IP). Default 0.0.0.0. */
  host?: string
  /** Listen port; 0 picks a free one. Default 4100. */
  port?: number
  /** Members to join through: `host:port` or multiaddrs. */
  peers?: Array<string | Multiaddr>
  /** Addresses other members dial (`host:port` or multiaddrs), when the listen address cannot tell them (0.0.0.0 behind NAT, containers). */
  announce?: Array<string | Multiaddr>
  /** The grid CA and this node's certificate and key (PEM); see `loadCerts`. */
  tls?: TlsMaterial
  /** Without `tls`: use a throwaway CA shared by the dev nodes of this machine. */
  dev?: boolean
  /** Certificate name under the dev CA (default: `node-<port>`, so a restart keeps its identity; on port 0, a throwaway
   * identity in memory, whose default data dir is a temp dir removed at stop). */
  devName?: string
  /** The host application's pino logger; silent by default. */
  logger?: Logger
  /** Upper bound on a graceful stop before connections are dropped. Default 5000 ms. */
  stopTimeoutMs?: number
  /** Spawn workers on this node (`true` for the defaults). */
  agent?: boolean | AgentInit
  /**
   * Where the node keeps state (shipped stage modules, worker records), mode 0700. Default:
   * `<stateHome>/gridd/<peerId>`.
   */
  dataDir?: string
  /** The per-user state dir under which the default data dir lies (the CLI passes `$XDG_STATE_HOME`). Default `~/.local/state`. */
  stateHome?: string
  /**
   * libp2p's connection monitor: a ping on a new stream to every connected peer at this interval, for its
   * round-trip time only (membership decides liveness, with its watchers' pings). Off by default: on a full
   * mesh it was a quarter of an idle node's CPU (README, Membership at scale).
   */
  pingIntervalMs?: number
  /** Channel limits: value size (64 KiB), tombstone TTL (10 min), anti-entropy interval (10 s). */
  channels?: ChannelsInit
  /** Task pools and result retention (see `node.run`, `node.session`). */
  tasks?: TasksInit
  /** Add-ons to start once the node is up, in order: `[addon, options]` pairs (see `node.use`). */
  addons?: Array<[Addon<never>, unknown?]>
  /** A CRL (PEM) signed by the grid CA to enforce from the start; a newer one (from the data dir or the grid) replaces it. */
  crl?: string
  /** How often open connections' certificates are re-checked for expiry. Default 5000 ms. */
  certificateCheckMs?: number
  /** Pipeline deployments (`node.deploy`): `run: false` keeps this member from running any (it still stores and serves them). */
  deployments?: DeploymentsInit
}

/** Whether this member runs deployments, and its runner's timings (lease, claim idle time, progress reports). */
export type DeploymentsInit = RunnerInit & { run?: boolean }

export interface GridNodeConfig {
  host: string
  port: number
  peers: Multiaddr[]
  announce: Multiaddr[]
  tls?: TlsMaterial
  dev: boolean
  devName?: string
  stopTimeoutMs: number
  pingIntervalMs?: number
  membership: MembershipConfig
  agent?: AgentConfig
  dataDir?: string
  /** `dataDir` is a throwaway dev identity's temp dir, removed at stop (node-tls.ts). */
  throwawayDataDir?: true
  stateHome?: string
  channels: ChannelsInit
  tasks: TasksConfig
  crl?: string
  certificateCheckMs: number
  deployments: DeploymentsInit
}

/** Fills defaults and validates; errors name the option. */
export function resolveConfig (init: GridNodeInit): GridNodeConfig {
  checkInitShape(init)
  const host = init.host ?? DEFAULT_HOST
  if (isIP(host) === 0) throw new ConfigError('host', `must be an IP address to listen on, got "${host}"`)
  const port = checkOption('port', listenPort, init.port ?? DEFAULT_PORT)
  const peers = (init.peers ?? []).map((peer, i) => addressOption(`peers[${i}]`, peer))
  if (init.tls == null && init.dev !== true) throw new ConfigError('tls', 'give { ca, cert, key } (see loadCerts) or set dev: true')
  return {
    host,
    port,
    peers,
    announce: (init.announce ?? []).map((a, i) => addressOption(`announce[${i}]`, a)),
    tls: init.tls,
    dev: init.dev === true,
    devName: init.devName,
    stopTimeoutMs: checkOption('stopTimeoutMs', timerMs, init.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS),
    pingIntervalMs: init.pingIntervalMs == null ? undefined : checkOption('pingIntervalMs', timerMs, init.pingIntervalMs),
    membership: resolveMembershipConfig(init),
    agent: init.agent == null || init.agent === false ? undefined : resolveAgentConfig(init.agent === true ? {} : init.agent),
    dataDir: init.dataDir,
    stateHome: init.stateHome,
    channels: resolveChannelsConfig(init.channels ?? {}),
    tasks: resolveTasksConfig(init.tasks),
    crl: init.crl,
    certificateCheckMs: checkOption('certificateCheckMs', timerMs, init.certificateCheckMs ?? DEFAULT_CERTIFICATE_CHECK_MS),
    deployments: resolveDeploymentsConfig(init.deployments)
  }
}

/** A `host:port` or multiaddr string parsed, a Multiaddr as given; anything else (a JS caller's number) is refused here, not by libp2p later. */
function addressOption (option: string, address: string | Multiaddr): Multiaddr {
  if (typeof address === 'string') return wrap(option, () => parsePeerAddress(address))
  if (isMultiaddr(address)) return address
  throw new ConfigError(option, `must be "host:port", a multiaddr string or a Multiaddr, got ${shown(address)}`)
}

function wrap<T> (option: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof ConfigError || !(err instanceof GridError)) throw err
    throw new ConfigError(option, err.message, { cause: err })
  }
}

/*
 * The shape of `GridNode.start`'s options, checked before any value: a caller
 * in plain JS (or one casting) gets a ConfigError naming the option, never a
 * TypeError from deep inside the start, and a misspelt key (`hartbeatMs`) is
 * refused rather than silently left at its default. Each list of keys is typed
 * against its interface, so an option added there must be added here; each
 * section's keys are checked by its own resolver (agent, channels, tasks, deployments).
 */

const NODE_KEYS: KnownKeys<GridNodeInit> = {
  host: true, port: true, peers: true, announce: true, tls: true, dev: true, devName: true, logger: true, stopTimeoutMs: true,
  agent: true, dataDir: true, stateHome: true, pingIntervalMs: true, channels: true, tasks: true, addons: true, crl: true,
  certificateCheckMs: true, deployments: true,
  heartbeatMs: true, suspectAfterMs: true, suspicionMinMs: true, suspicionMaxMs: true, reconnectForMs: true, reconnectMaxBackoffMs: true,
  forgetLeftAfterMs: true, maxMeshPeers: true, maxMembers: true, monitors: true, refreshPerMemberMs: true, refreshMinMs: true
}


/** ConfigError unless `init` has GridNodeInit's shape (known keys, values of their types); values' bounds are checked by resolveConfig. */
export function checkInitShape (init: unknown): asserts init is GridNodeInit {
  checkKnownKeys('options', init, NODE_KEYS, '')
  for (const option of ['host', 'devName', 'dataDir', 'stateHome', 'crl'] as const) {
    if (init[option] != null && typeof init[option] !== 'string') throw new ConfigError(option, `must be a string, got ${shown(init[option])}`)
  }
  checkOptional('dev', flag, init.dev)
  for (const option of ['peers', 'announce', 'addons'] as const) {
    if (init[option] != null && !Array.isArray(init[option])) throw new ConfigError(option, `must be an array, got ${shown(init[option])}`)
  }
  init.addons?.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length < 1 || pair.length > 2) throw new ConfigError(`addons[${i}]`, 'must be an [addon, options?] pair')
  })
  if (init.logger != null && typeof (init.logger as { child?: unknown }).child !== 'function') throw new ConfigError('logger', 'must be a pino logger')
}

const DEPLOYMENTS_KEYS: KnownKeys<DeploymentsInit> = {
  run: true, stepMs: true, claimIdleMs: true, progressMs: true, advertRefreshMs: true,
  leaseMs: true, renewMs: true, graceMs: true, settleMs: true, pauseMs: true, quietAfterPauseMs: true
}

/** Checks the `deployments` options: known keys, `run` a boolean, every timing a timer's delay. */
function resolveDeploymentsConfig (init: DeploymentsInit = {}): DeploymentsInit {
  checkKnownKeys('deployments', init, DEPLOYMENTS_KEYS)
  checkOptional('deployments.run', flag, init.run)
  for (const key of Object.keys(DEPLOYMENTS_KEYS) as Array<keyof DeploymentsInit>) if (key !== 'run') checkOptional(`deployments.${key}`, timerMs, init[key])
  return init
}
