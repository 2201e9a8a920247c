import { join } from 'node:path'
import type { Channel } from '../channels/channel.ts'
import type { Logger } from '../logger.ts'
import type { Member } from '../membership/member.ts'
import type { PipelineRun } from '../pipeline/run.ts'
import type { PipelineInit } from '../pipeline/types.ts'
import { Deployments, checkName } from './service.ts'
import type { RunnerInit } from './runner.ts'
import { packDeployment } from './pack.ts'
import { DEPLOYMENTS_CHANNEL } from './types.ts'
import type { DeploymentView } from './types.ts'
import { NodeStoppedError } from '../errors.ts'
import { checkKnownKeys, checkOptional } from '../checks/check.ts'
import { abortSignal } from '../checks/values.ts'
import type { KnownKeys } from '../checks/check.ts'

export interface DeployOptions {
  /** JSON given to the definition's factories as `ctx.params` (at most 16 KiB). */
  params?: unknown
  signal?: AbortSignal
}

/** A misspelt `params` would deploy without them: refused instead. */
const DEPLOY_KEYS: KnownKeys<DeployOptions> = { params: true, signal: true }

export interface DeploymentsPartDeps {
  self: string
  dataDir: string
  channel: (name: string) => Channel
  members: () => Member[]
  /** Whether this node holds a CRL that revokes its own certificate (it runs no deployment). */
  selfRevoked: () => boolean
  pipeline: (name: string, init: PipelineInit) => PipelineRun
  log: Logger
  init: RunnerInit & { run?: boolean }
}

/**
 * A node's deployments: opened on the node's start, stopped before its pipelines and workers.
 * The runner starts once the deployments channel is ready, so this member never claims a lease
 * from an empty view; the node's start does not wait for that (the seeds, a later part, must be
 * dialled first). `node.deployments` is this.
 */
export class DeploymentsPart {
  private readonly deps: DeploymentsPartDeps
  private service?: Deployments
  private started = false
  private closed = false

  constructor (deps: DeploymentsPartDeps) {
    this.deps = deps
  }

  async open (): Promise<void> {
    const channel = this.deps.channel(DEPLOYMENTS_CHANNEL)
    const { run, ...timings } = this.deps.init
    const service = new Deployments({
      self: this.deps.self,
      channel,
      codeDir: join(this.deps.dataDir, 'deployments'),
      members: this.deps.members,
      selfRevoked: this.deps.selfRevoked,
      pipeline: this.deps.pipeline,
      log: this.deps.log.child({ component: 'deployments' }),
      run: run !== false
    }, timings)
    this.service = service
    void channel.ready.then(() => {
      if (this.closed) return
      this.started = true
      service.start()
    })
  }

  close (): void {
    this.closed = true
    if (this.started) this.service?.stop()
  }

  /** The service (the protocol answers through it); NodeStoppedError before the node started. */
  api (): Deployments {
    if (this.service == null) throw new NodeStoppedError()
    return this.service
  }

  /** Bundles `file` here, stores it grid-wide and makes it deployment `name`'s next version. */
  async deploy (name: string, file: string, options: DeployOptions = {}): Promise<DeploymentView> {
    checkName(name)
    checkKnownKeys('options', options, DEPLOY_KEYS, '')
    checkOptional('signal', abortSignal, options.signal)
    // before reading and bundling the file: a caller that gave up wants no work done
    options.signal?.throwIfAborted()
    const packed = await packDeployment(file, { signal: options.signal })
    options.signal?.throwIfAborted()
    return this.api().deploy(name, packed, options.params, `peer:${this.deps.self}`)
  }

  list (): DeploymentView[] {
    return this.api().list()
  }

  status (name: string): DeploymentView {
    return this.api().status(name)
  }

  /** Stops deployment `name` grid-wide (its owner cancels its run); `deploy` under the name starts it again. */
  stop (name: string): DeploymentView {
    return this.api().stopDeployment(name)
  }

  /** Removes stopped deployment `name` grid-wide (its record, progress, lease, and code nothing else uses); a running one is refused. */
  remove (name: string): DeploymentView {
    return this.api().removeDeployment(name)
  }

  /** The deployments this member runs now. */
  running (): string[] {
    return this.service?.running() ?? []
  }
}
