import type { Libp2p } from '@libp2p/interface'
import { Spawner } from './spawner.ts'
import { AgentService } from './agent-service.ts'
import type { LocalWorker } from './local-worker.ts'
import { WorkerRecords } from './worker-records.ts'
import { StageModules } from './stage-modules.ts'
import { checkReadableBy, resolveWorkerUser } from './worker-user.ts'
import { GRIDD_CODE } from './package-roots.ts'
import { prepareDataDir } from '../data-dir.ts'
import type { AgentConfig } from './config.ts'
import type { Membership, WorkerLoad } from '../membership/membership.ts'
import type { Logger } from '../logger.ts'
import { MAX_LOAD_STAGES } from '../membership/schema.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import type { RoleCheck } from '../trust/credentials.ts'

/** Where the workers of the stages beyond what a heartbeat may name are counted. */
export const OTHER_STAGES = '(other stages)'

/**
 * What `--agent` adds to a node: the spawner and its network service, with
 * capacity on the member entry and live worker load provided to membership
 * through its load hook (gossiped at once whenever a worker starts or exits).
 */
export class AgentRole {
  readonly spawner: Spawner
  private readonly service: AgentService
  private readonly membership: Membership
  private readonly config: AgentConfig
  private readonly dataDir: string
  private readonly records: WorkerRecords
  private readonly modules: StageModules
  private readonly log: Logger

  /** `cwd`: where bare imports of shipped bundles resolve (the agent's own packages). */
  constructor (libp2p: Libp2p, membership: Membership, config: AgentConfig, dataDir: string, log: Logger, cwd: string, roles: RoleCheck) {
    this.membership = membership
    this.config = config
    this.dataDir = dataDir
    this.log = log.child({ component: 'agent' })
    this.records = new WorkerRecords(dataDir, log.child({ component: 'spawner' }))
    this.spawner = new Spawner(config, log, () => { this.membership.loadChanged() }, this.records)
    this.modules = new StageModules(dataDir, { moduleDirs: config.moduleDirs, moduleCacheMb: config.moduleCacheMb, cwd }, this.log)
    const capacity = { cpu: config.cpu, memoryMb: config.memoryMb, workers: config.workers }
    this.service = new AgentService(libp2p, this.spawner, this.modules, log, roles, { attachTimeoutMs: config.attachTimeoutMs, capacity })
  }

  async start (): Promise<void> {
    // refused now, not at the first spawn: a worker user this agent cannot switch to or that cannot reach its code
    const user = this.config.workerUser == null ? undefined : await resolveWorkerUser(this.config.workerUser)
    await prepareDataDir(this.dataDir, this.log, { traverseGid: user?.gid })
    // the module cache must be writable: found out now, not at the first shipped stage
    await this.modules.start({ readerGid: user?.gid })
    if (user != null) {
      await checkReadableBy(user, this.modules.cacheDir, 'the module cache')
      await checkReadableBy(user, GRIDD_CODE, 'the worker host')
      for (const dir of this.modules.moduleDirs) await checkReadableBy(user, dir, 'the module dir')
      this.spawner.runWorkersAs(user)
      this.log.info({ workerUser: user.name, uid: user.uid, gid: user.gid }, 'workers run as another user')
    }
    // workers a previous agent on this data dir left running (it was killed before it could stop them)
    await this.records.reapLeftovers()
    this.membership.updateSelf({
      role: 'agent',
      capacity: { cpu: this.config.cpu, memoryMb: this.config.memoryMb },
      weight: this.config.weight,
      strategy: this.config.strategy
    })
    this.membership.setLoadProvider(() => this.load())
    this.spawner.start()
    await this.service.start()
  }

  /** Bytes of the module cache (shipped stage and task bundles), as its quota counts them: `gridd_module_cache_bytes`. */
  get moduleCacheBytes (): number {
    return this.modules.cacheBytes
  }

  /** Runs another peer's code on this node as shipped code (see AgentService.spawnShipped). */
  async spawnShipped (request: Parameters<AgentService['spawnShipped']>[0], self: string): Promise<LocalWorker> {
    return await this.service.spawnShipped(request, self)
  }

  /** Its node's stop began (see Spawner.beginStop); the agent itself stops later, with `stop`. */
  beginStop (): void {
    this.spawner.beginStop()
  }

  async stop (): Promise<void> {
    await this.service.stop()
    await this.spawner.stop()
  }

  /** Immediate: every worker is killed at once (SIGKILL), no drain. */
  async destroy (): Promise<void> {
    await this.service.stop()
    await this.spawner.destroy()
  }

  /** Worker streams closed for a protocol violation (`gridd_rejected_messages_total`). */
  rejected (): RejectedCount[] {
    return this.service.rejected()
  }

  private load (): WorkerLoad {
    const used = this.spawner.usage()
    const stages: Record<string, number> = {}
    for (const w of this.spawner.list()) stages[w.stage] = (stages[w.stage] ?? 0) + 1
    return { workers: used.workers, maxWorkers: this.config.workers, slotsUsed: used.cpu, memoryUsedMb: used.memoryMb, stages: boundedStages(stages) }
  }
}

/**
 * A heartbeat names at most MAX_LOAD_STAGES stages (peers drop a larger one, and
 * the agent would vanish from the grid): the busiest keep their names, the rest
 * are counted together.
 */
export function boundedStages (stages: Record<string, number>): Record<string, number> {
  const entries = Object.entries(stages)
  if (entries.length <= MAX_LOAD_STAGES) return stages
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const kept = Object.fromEntries(entries.slice(0, MAX_LOAD_STAGES - 1))
  kept[OTHER_STAGES] = entries.slice(MAX_LOAD_STAGES - 1).reduce((sum, [, n]) => sum + n, 0)
  return kept
}
