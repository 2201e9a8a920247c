import { Command, Option } from 'commander'
import { GridNode } from '../../node.ts'
import { DEFAULT_HOST, DEFAULT_PORT } from '../../config.ts'
import { createCliLogger } from '../logger.ts'
import { intOption, listOption, logLevelOption, numberOption, tlsOptions } from '../options.ts'
import { channelCount, cpuCapacity, maxWorkers, memberCount, memoryCapacityMb, positiveInteger, STRATEGIES, syncMessageBytes, weight } from '../../checks/values.ts'
import type { Strategy } from '../../checks/values.ts'
import { resolveTlsSource } from '../tls-source.ts'
import { readableCaKeys } from '../key-file.ts'
import type { Logger } from '../../logger.ts'
import { CertsNotFoundError, ConfigError } from '../../errors.ts'
import { onShutdownSignal } from '../signals.ts'
import { parseAddonSpec, loadAddon } from '../addon-spec.ts'
import type { Addon } from '../../addons/addon.ts'
import { resolveTaskSpec } from '../task-spec.ts'
import { MEMBER_EVENT_TYPES } from '../../membership/events.ts'
import { DEFAULT_MODULE_CACHE_MB, DEFAULT_PRESTART_WORKERS } from '../../agent/config.ts'
import { readCrlFlag } from '../crl-file.ts'
import { apiAddonOptions, apiOptions } from '../api-flags.ts'
import type { ApiFlags } from '../api-flags.ts'
import { checkJoinFlags, joinedDataDir, joinedTls, joinOptions, readIssuer, useJoinAndHealth } from '../join-flags.ts'
import type { JoinFlags } from '../join-flags.ts'
import { PeerLog } from '../peer-log.ts'


interface NodeFlags extends ApiFlags, JoinFlags {
  host: string
  port: number
  peer?: string[]
  certs?: string
  name?: string
  ca?: string
  cert?: string
  key?: string
  dev?: boolean
  logLevel: string
  heartbeatMs?: number
  suspectAfterMs?: number
  reconnectForMs?: number
  forgetLeftAfterMs?: number
  maxMembers?: number
  agent?: boolean
  workers?: number
  cpu?: number
  memory?: number
  weight?: number
  strategy?: Strategy
  dataDir?: string
  moduleDir?: string[]
  moduleCacheMb?: number
  workerUser?: string
  prestartWorkers?: number
  dashboard?: number
  dashboardHost: string
  metrics?: number
  metricsHost: string
  addon?: string[]
  task?: string[]
  channelValueBytes?: number
  tombstoneTtlMs?: number
  maxChannels?: number
  channelKeys?: number
  channelBytes?: number
  channelSyncBytes?: number
  crl?: string
  certificateCheckMs?: number
  deployments?: boolean
}

export function nodeCommand (): Command {
  const cmd = new Command('node')
    .description('run a grid node (the same daemon on every machine)')
    .addOption(new Option('--host <ip>', 'listen address').default(DEFAULT_HOST).env('GRID_HOST'))
    .addOption(intOption('--port <port>', 'listen port (0 = any free port)', 0, 65535).default(DEFAULT_PORT).env('GRID_PORT'))
    .addOption(listOption('--peer <addr...>', 'a member to join through: host:port or multiaddr (repeatable, comma-separated in GRID_PEERS)').env('GRID_PEERS'))
  for (const option of tlsOptions('node')) cmd.addOption(option)
  cmd
    .addOption(new Option('--agent', 'spawn worker processes for the grid').env('GRID_AGENT'))
    .addOption(numberOption('--workers <n>', 'most workers at once (default: CPU count)', maxWorkers).env('GRID_WORKERS'))
    .addOption(numberOption('--cpu <slots>', 'CPU slots advertised, fractions allowed (default: CPU count)', cpuCapacity).env('GRID_CPU'))
    .addOption(numberOption('--memory <mb>', 'memory for workers in MB (default: free memory minus a reserve)', memoryCapacityMb).env('GRID_MEMORY'))
    .addOption(numberOption('--weight <w>', 'placement weight, -1e6 to 1e6: larger attracts more work, negative flips the strategy, 0 drains (default 1)', weight).env('GRID_WEIGHT'))
    .addOption(new Option('--strategy <s>', 'placement strategy').choices(STRATEGIES).env('GRID_STRATEGY'))
    .addOption(new Option('--data-dir <dir>', 'where the node keeps state, mode 0700 (default: $XDG_STATE_HOME/gridd/<peer id>, else ~/.local/state/gridd/<peer id>)').env('GRID_DATA_DIR'))
    .addOption(listOption('--module-dir <dir...>', 'a directory of deployed stage code requesters may name to run in place (repeatable); anything else runs only from the cache of shipped bundles').env('GRID_MODULE_DIRS'))
    .addOption(numberOption('--module-cache-mb <mb>', `most MB of shipped stage bundles cached, least recently used evicted (default ${DEFAULT_MODULE_CACHE_MB})`, positiveInteger).env('GRID_MODULE_CACHE_MB'))
    .addOption(intOption('--prestart-workers <n>', `worker hosts kept started ahead of need, so a spawn only loads its stage (default ${DEFAULT_PRESTART_WORKERS})`, 0, 64).env('GRID_PRESTART_WORKERS'))
    .addOption(new Option('--worker-user <user>', 'run workers as this user (name or uid; the agent must run as root), so a stage cannot read the agent\'s key').env('GRID_WORKER_USER'))
    .addOption(intOption('--heartbeat-ms <ms>', 'membership heartbeat period (default 1000)', 10, 600_000).env('GRID_HEARTBEAT_MS'))
    .addOption(intOption('--suspect-after-ms <ms>', 'silence before a member is suspect (default 3 × heartbeat)', 10, 3_600_000).env('GRID_SUSPECT_AFTER_MS'))
    .addOption(intOption('--reconnect-for-ms <ms>', 'keep redialling failed members this long (default 24 h)', 1000, 2_147_483_647).env('GRID_RECONNECT_FOR_MS'))
    .addOption(intOption('--forget-left-after-ms <ms>', 'how long members that left stay in status and the dashboard (default 60000); `grid status --all` still shows them', 1, 2_147_483_647).env('GRID_FORGET_LEFT_AFTER_MS'))
    .addOption(numberOption('--max-members <n>', 'most members the member table holds (default 4096)', memberCount).env('GRID_MAX_MEMBERS'))
    .addOption(intOption('--dashboard <port>', 'serve the live dashboard on this port (0 = any free port)', 0, 65535).env('GRID_DASHBOARD'))
    .addOption(new Option('--dashboard-host <ip>', 'dashboard listen address (it has no login: widen with care)').default('127.0.0.1').env('GRID_DASHBOARD_HOST'))
    .addOption(intOption('--metrics <port>', 'serve Prometheus metrics on http://127.0.0.1:<port>/metrics', 0, 65535).env('GRID_METRICS'))
    .addOption(new Option('--metrics-host <ip>', 'metrics listen address').default('127.0.0.1').env('GRID_METRICS_HOST'))
    .addOption(new Option('--addon <module...>', 'load an add-on: <module>[:json-options], e.g. ./my-addon.ts:{"greeting":"hi"} (repeatable)').env('GRID_ADDONS'))
    .addOption(listOption('--task <name=module...>', 'a task clients may run by name: `grid task run <name>` (repeatable, comma-separated in GRID_TASKS)').env('GRID_TASKS'))
    .addOption(intOption('--channel-value-bytes <n>', 'largest channel value, serialized (default 65536)', 16, 16 * 1024 * 1024).env('GRID_CHANNEL_VALUE_BYTES'))
    .addOption(intOption('--tombstone-ttl-ms <ms>', 'how long channel deletes are remembered (default 600000)', 1000, 2_147_483_647).env('GRID_TOMBSTONE_TTL_MS'))
    .addOption(numberOption('--max-channels <n>', 'channels open at once, clients\' included (default 256)', channelCount).env('GRID_MAX_CHANNELS'))
    .addOption(numberOption('--channel-keys <n>', 'keys per channel, tombstones included (default 65536)', positiveInteger).env('GRID_CHANNEL_KEYS'))
    .addOption(numberOption('--channel-bytes <n>', 'bytes per channel (default 67108864)', positiveInteger).env('GRID_CHANNEL_BYTES'))
    .addOption(numberOption('--channel-sync-bytes <n>', 'largest snapshot-exchange message; bigger snapshots stream in chunks (default 4194304)', syncMessageBytes).env('GRID_CHANNEL_SYNC_BYTES'))
    .addOption(new Option('--crl <file>', 'a revocation list from `grid certs revoke` to enforce from the start (refused, exit 2, unless signed by the grid CA)').env('GRID_CRL'))
    .addOption(intOption('--certificate-check-ms <ms>', 'how often connected peers\' certificates are re-checked for expiry (default 5000)', 100, 3_600_000).env('GRID_CERTIFICATE_CHECK_MS'))
    .addOption(new Option('--no-deployments', 'never run a pipeline deployment on this node (it still stores and serves them)').env('GRID_NO_DEPLOYMENTS'))
    .addOption(logLevelOption('info'))
  for (const option of apiOptions()) cmd.addOption(option)
  for (const option of joinOptions()) cmd.addOption(option)
  return cmd.action(async (flags: NodeFlags) => { await runNode(flags) })
}

/** The flags that shape an agent's workers: a node without --agent runs none, so they would be dropped without a word. */
const AGENT_ONLY_FLAGS: Array<[keyof NodeFlags, string]> = [
  ['workers', '--workers'], ['cpu', '--cpu'], ['memory', '--memory'], ['moduleDir', '--module-dir'],
  ['moduleCacheMb', '--module-cache-mb'], ['prestartWorkers', '--prestart-workers'], ['workerUser', '--worker-user']
]

async function runNode (flags: NodeFlags): Promise<void> {
  const given = flags.agent === true ? undefined : AGENT_ONLY_FLAGS.find(([key]) => flags[key] != null)
  if (given != null) throw new ConfigError(given[1], 'needs --agent (GRID_AGENT): a node without it runs no workers')
  checkJoinFlags(flags)
  const logger = await createCliLogger(flags.logLevel)
  // before the node starts: a missing task or add-on module is bad input (exit 2), not a failure later
  // (the node would have joined the grid only to leave it at once)
  const tasks = await Promise.all((flags.task ?? []).map(async spec => await resolveTaskSpec(spec, process.cwd())))
  const addons: Array<{ addon: Addon<unknown>, options: unknown }> = []
  for (const spec of flags.addon ?? []) {
    const { module, options } = parseAddonSpec(spec)
    addons.push({ addon: await loadAddon(module, process.cwd()), options })
  }
  // --dev wins: it never mixes the throwaway CA with real certificates (and is refused with --join)
  // --join: the certificate comes from the grid (or from the data dir, after a first join)
  const dataDir = flags.join == null ? flags.dataDir : joinedDataDir(flags.dataDir, process.env.XDG_STATE_HOME)
  const joined = flags.join == null ? undefined : { source: 'join', tls: await joinedTls(flags, dataDir!, logger), certsDir: undefined }
  const found = flags.dev === true ? undefined : joined ?? await resolveTlsSource(flags, process.env, process.cwd(), 'node')
  if (found == null && flags.dev !== true) throw new CertsNotFoundError('no --certs/--ca flags, no GRID_TLS_* variables, no ./certs directory')
  // before the node starts too: an --api-* flag without --api, or a bad --api-hook, is bad input
  const api = apiAddonOptions(flags, process.cwd(), found?.tls)
  // and --ca-key: a key of another CA would have stopped the node after it joined the grid
  const issuer = await readIssuer(flags, found?.tls)
  // installed before the node starts: a signal that arrives right after "grid node listening" still stops it
  // gracefully instead of killing the process with the default action; one during the start aborts it (what
  // started is stopped in reverse, the start rejects) rather than waiting for it to finish
  const shutdown = new AbortController()
  let starting: Promise<GridNode> | undefined
  const peers = new PeerLog(logger)
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, 'stopping')
    shutdown.abort()
    await (await starting?.catch(() => undefined))?.stop()
    peers.close()
    logger.flush()
  })
  starting = GridNode.start({
    host: flags.host,
    port: flags.port,
    peers: flags.peer ?? [],
    tls: found?.tls,
    dev: found == null,
    logger,
    heartbeatMs: flags.heartbeatMs,
    suspectAfterMs: flags.suspectAfterMs,
    reconnectForMs: flags.reconnectForMs,
    forgetLeftAfterMs: flags.forgetLeftAfterMs,
    maxMembers: flags.maxMembers,
    dataDir,
    announce: flags.announce,
    // the XDG base-directory spec: the default data dir lies under it
    stateHome: process.env.XDG_STATE_HOME,
    crl: flags.crl == null ? undefined : await readCrlFlag(flags.crl),
    certificateCheckMs: flags.certificateCheckMs,
    deployments: { run: flags.deployments !== false },
    channels: { maxValueBytes: flags.channelValueBytes, tombstoneTtlMs: flags.tombstoneTtlMs, maxChannels: flags.maxChannels, maxKeysPerChannel: flags.channelKeys, maxChannelBytes: flags.channelBytes, syncMessageBytes: flags.channelSyncBytes },
    agent: flags.agent === true ? { workers: flags.workers, cpu: flags.cpu, memoryMb: flags.memory, weight: flags.weight, strategy: flags.strategy, moduleDirs: flags.moduleDir, moduleCacheMb: flags.moduleCacheMb, workerUser: flags.workerUser, prestartWorkers: flags.prestartWorkers, environment: process.env } : undefined
  }, { signal: shutdown.signal })
  // aborted by a signal: not an error to report, the signal's handler exits once the start has unwound
  const node = await starting.catch((err: unknown) => { if (shutdown.signal.aborted) return undefined; throw err })
  if (node == null) return
  for (const { name, module } of tasks) node.tasks.register(name, module)
  if (tasks.length > 0) logger.info({ tasks: tasks.map(t => t.name) }, 'tasks registered')
  if (flags.agent !== true && (flags.weight != null || flags.strategy != null)) {
    if (flags.weight != null) node.setWeight(flags.weight)
    if (flags.strategy != null) node.setStrategy(flags.strategy)
  }
  for (const type of MEMBER_EVENT_TYPES) node.on(type, member => { logger.debug({ member: member.id, state: member.state }, type) })
  if (found != null) logger.info({ source: found.source }, 'TLS material loaded')
  // an issuer (--ca-key) holds the CA key by design: the warning is for nodes that should not
  if (found?.certsDir != null && flags.caKey == null) await warnOfCaKeys(found.certsDir, logger)
  node.on('peer:connect', ({ id, name }) => { peers.connected(id, name) })
  node.on('peer:disconnect', ({ id, name }) => { peers.disconnected(id, name) })
  try {
    // built-ins load only when asked for: an idle node does not pay for web servers or prom-client
    if (flags.metrics != null) await node.use((await import('../../metrics/addon.ts')).metricsAddon, { port: flags.metrics, host: flags.metricsHost })
    if (flags.dashboard != null) await node.use((await import('../../dashboard/addon.ts')).dashboardAddon, { port: flags.dashboard, host: flags.dashboardHost })
    if (api != null) await node.use((await import('../../api/addon.ts')).apiAddon, api)
    await useJoinAndHealth(node, flags, found?.tls, issuer)
    for (const { addon, options } of addons) await node.use(addon, options)
  } catch (err) {
    await node.stop()
    // a signal stopped the node under an add-on still starting: its refusal is no error to report
    if (!shutdown.signal.aborted) throw err
  }
}

/** A node never needs the CA key: one it can read, any stage running as its user can read too. */
async function warnOfCaKeys (certsDir: string, logger: Logger): Promise<void> {
  for (const path of await readableCaKeys(certsDir)) {
    logger.warn({ path }, 'a CA private key is readable by this node: whoever can read it can issue certificates for the grid; keep it off the machines that run nodes (or out of this user\'s reach)')
  }
}
