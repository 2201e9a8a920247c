import * as v from 'valibot'
import type { Channel } from '../channels/channel.ts'
import type { Logger } from '../logger.ts'
import type { Member } from '../membership/member.ts'
import type { PipelineRun } from '../pipeline/run.ts'
import type { PipelineInit } from '../pipeline/types.ts'
import { sha256 } from '../wire/module-ref.ts'
import { CodeStore } from './code-store.ts'
import { DeploymentStore } from './store.ts'
import { DeploymentRunner } from './runner.ts'
import type { RunnerInit } from './runner.ts'
import type { PackedDeployment } from './pack.ts'
import { MAX_CODE_BYTES, MAX_PARAMS_BYTES, NAME, NAME_RULE } from './types.ts'
import type { Deployment, DeploymentView } from './types.ts'
import { ConfigError, NotFoundError, NotSyncedError } from '../errors.ts'

export interface DeploymentsComponents {
  self: string
  channel: Channel
  /** Where this member writes the code it loads (`<data dir>/deployments`). */
  codeDir: string
  members: () => Member[]
  /** Whether this node holds a CRL that revokes its own certificate (it runs no deployment). */
  selfRevoked?: () => boolean
  pipeline: (name: string, init: PipelineInit) => PipelineRun
  log: Logger
  /** False: this member stores and shows deployments but never runs one. */
  run: boolean
}

/**
 * The grid's pipeline deployments as one member sees and serves them: deploy
 * (store the code and the record grid-wide), list, status and stop; and, when
 * this member runs deployments, its runner (one owner per deployment, src/leases).
 */
export class Deployments {
  private readonly c: DeploymentsComponents
  readonly store: DeploymentStore
  private readonly code: CodeStore
  private readonly runner: DeploymentRunner

  constructor (components: DeploymentsComponents, init: RunnerInit = {}) {
    this.c = components
    this.store = new DeploymentStore(components.channel)
    this.code = new CodeStore(components.channel, components.codeDir)
    this.runner = new DeploymentRunner({ self: components.self, store: this.store, code: this.code, members: components.members, selfRevoked: components.selfRevoked, pipeline: components.pipeline, log: components.log }, init)
  }

  start (): void {
    if (this.c.run) this.runner.start()
    // an advert of ours left by a run that was killed (SIGKILL: no stop withdrew it) would keep this member
    // elected for deployments it will never run: withdrawn now, the tombstone's fresh stamp beats it even
    // if it reaches us later, by sync
    else try { this.store.withdraw(this.c.self) } catch {}
  }

  stop (): void {
    if (this.c.run) this.runner.stop()
  }

  /** Stores `packed` and makes it deployment `name`'s next version (started again if it was stopped). */
  deploy (name: string, packed: PackedDeployment, params: unknown, deployedBy: string): DeploymentView {
    checkName(name)
    this.checkSynced(`deploy ${JSON.stringify(name)}`)
    const paramsBytes = Buffer.byteLength(JSON.stringify(params ?? null))
    if (paramsBytes > MAX_PARAMS_BYTES) throw new ConfigError('params', `must be at most ${MAX_PARAMS_BYTES} bytes of JSON, is ${paramsBytes}`)
    const modules = [packed.definition, ...packed.stages]
    const bytes = modules.reduce((sum, m) => sum + Buffer.byteLength(m.source), 0)
    if (bytes > MAX_CODE_BYTES) throw new ConfigError('code', `the definition and its stages come to ${bytes} bytes; at most ${MAX_CODE_BYTES}`)
    for (const m of modules) if (sha256(m.source) !== m.sha256) throw new ConfigError('code', 'a module does not match its sha256')
    for (const m of modules) this.code.put(m.source)
    const previous = this.store.deployment(name)
    const deployment: Deployment = {
      name,
      hash: packed.definition.sha256,
      stages: packed.stages.map(s => ({ name: s.name, hash: s.sha256 })),
      params: params ?? null,
      version: (previous?.version ?? 0) + 1,
      stopped: false,
      deployedBy,
      deployedAt: Date.now()
    }
    this.store.put(deployment)
    if (previous != null) this.dropUnusedCode(previous)
    return this.view(deployment)
  }

  list (): DeploymentView[] {
    const elect = this.runner.electorate()
    return this.store.deployments().map(d => this.view(d, elect))
  }

  status (name: string): DeploymentView {
    return this.view(this.found(name))
  }

  /** Stops deployment `name` everywhere (its owner cancels its run); a deploy under the name starts it again. */
  stopDeployment (name: string): DeploymentView {
    this.checkSynced(`stop deployment ${JSON.stringify(name)}`)
    const deployment = this.found(name)
    const stopped = { ...deployment, stopped: true }
    if (!deployment.stopped) this.store.put(stopped)
    return this.view(stopped)
  }

  /**
   * Removes stopped deployment `name` grid-wide: its record, progress, lease and the code no other
   * deployment uses. One still running is refused (stop it first: its owner then hands its run over
   * cleanly, with its last progress written, before anything is deleted under it).
   */
  removeDeployment (name: string): DeploymentView {
    this.checkSynced(`remove deployment ${JSON.stringify(name)}`)
    const deployment = this.found(name)
    if (!deployment.stopped) throw new ConfigError('name', `deployment ${JSON.stringify(name)} is running: stop it first (grid pipeline stop ${name})`)
    const last = this.view(deployment)
    this.store.remove(name)
    this.dropUnusedCode(deployment)
    return last
  }

  /**
   * A change made on a view of the channel that has not synced (a node just started, its seeds not reached)
   * would be made blind: a deploy numbered 1 over the grid's version N (the newer stamp winning everywhere)
   * and the old version's code kept; a stop or remove of a running deployment answered 404. Refused, retryable.
   */
  private checkSynced (what: string): void {
    if (!this.c.channel.isSynced) throw new NotSyncedError(this.c.channel.name, what)
  }

  /** The deployments this member runs now. */
  running (): string[] {
    return this.runner.running()
  }

  view (d: Deployment, elect: (name: string) => string | undefined = this.runner.electorate()): DeploymentView {
    const lease = this.store.lease(d.name)
    const owned = lease != null && lease.until > Date.now()
    const elected = d.stopped ? undefined : elect(d.name)
    const progress = this.store.progress(d.name)
    return {
      name: d.name,
      hash: d.hash,
      version: d.version,
      stopped: d.stopped,
      stages: d.stages.map(s => s.name),
      deployedBy: d.deployedBy,
      deployedAt: d.deployedAt,
      ...(elected != null ? { elected } : {}),
      ...(owned ? { owner: lease.holder, token: lease.token } : {}),
      ...(progress != null ? { progress } : {})
    }
  }

  private found (name: string): Deployment {
    checkName(name)
    const deployment = this.store.deployment(name)
    if (deployment == null) throw new NotFoundError(`no pipeline deployment ${JSON.stringify(name)}`)
    return deployment
  }

  /** Code `previous` (a replaced version, or a removed deployment) used that no deployment uses now. */
  private dropUnusedCode (previous: Deployment): void {
    const used = new Set(this.store.deployments().flatMap(d => [d.hash, ...d.stages.map(s => s.hash)]))
    for (const hash of [previous.hash, ...previous.stages.map(s => s.hash)]) if (!used.has(hash)) this.code.remove(hash)
  }
}

export function checkName (name: unknown): asserts name is string {
  if (!v.is(v.pipe(v.string(), v.regex(NAME)), name)) throw new ConfigError('name', `${NAME_RULE}; got ${JSON.stringify(name)}`)
}
