import type { Logger } from '../logger.ts'
import type { Member } from '../membership/member.ts'
import type { PipelineRun } from '../pipeline/run.ts'
import type { PipelineInit } from '../pipeline/types.ts'
import { electHolder } from '../leases/election.ts'
import type { LeaseTimings } from '../leases/lease.ts'
import { KeyedLeases, leaseTimings, stepLoop } from '../leases/jobs.ts'
import { releaseHeld } from '../leases/records.ts'
import { RunSlot } from './run-slot.ts'
import { FreshAdverts, aliveMembers, withdrawAbandoned } from '../leases/fresh-adverts.ts'
import type { CodeStore } from './code-store.ts'
import type { DeploymentStore } from './store.ts'
import type { Deployment } from './types.ts'
import type { RunnerAdvert } from './store.ts'

/**
 * A deployment's lease outlasts a schedule's: a busy owner (GC, a loaded machine) must not drop its
 * run for a step 600 ms late, since a restart costs far more than a tick. Only a step `pauseMs` late
 * counts as a pause; a shorter one still finds the lease valid (others wait until `until` + grace).
 */
export const DEPLOYMENT_LEASE: Partial<LeaseTimings> = { leaseMs: 2500, renewMs: 400, pauseMs: 1500 }

/** With no deployment, the loop looks again this often (and at once when the channel changes). */
const IDLE_STEP_MS = 1000

export interface RunnerInit extends Partial<LeaseTimings> {
  /** How often deployments are looked at. Default 100 ms. */
  stepMs?: number
  /** Given to definitions as `ctx.claimIdleMs`: pending entries idle this long are a gone owner's. Default 2000 ms. */
  claimIdleMs?: number
  /** How often an owner reports its run's progress. Default 2000 ms. */
  progressMs?: number
  /** How often this member writes its runner advert again; others leave out one unchanged for four times this. Default 5 min. */
  advertRefreshMs?: number
}

/**
 * Every member runs deployments by default, and each refresh is a write every member receives: rarer than
 * a schedule firer's (a few API nodes) so that it stays a trickle in a large grid. The price: a member whose
 * writes the others refuse (its clock too far ahead) is elected by them for up to four refreshes more.
 */
const RUNNER_ADVERT_REFRESH_MS = 5 * 60_000

export interface RunnerComponents {
  self: string
  store: DeploymentStore
  code: CodeStore
  members: () => Member[]
  /** Whether this node holds a CRL that revokes its own certificate: then it runs no deployment. */
  selfRevoked?: () => boolean
  pipeline: (name: string, init: PipelineInit) => PipelineRun
  log: Logger
}

/**
 * Runs the grid's deployments from one member. Every step, for each deployment,
 * it elects the owner among the alive members that advertise themselves as
 * runners (rendezvous hashing: every member computes the same), keeps this
 * node's side of the lease (src/leases), and runs the deployment while holding
 * it: a fence record with the lease's token is written before the run starts,
 * so a member that comes back from a pause with an older token is fenced. A
 * node that stops holding (lease lost, fenced, paused, no longer elected) cancels
 * its run in the same step.
 */
export class DeploymentRunner {
  private readonly c: RunnerComponents
  private readonly leases: KeyedLeases
  private readonly stepMs: number
  private readonly claimIdleMs: number
  private readonly progressMs: number
  private readonly slots = new Map<string, RunSlot>()
  private readonly adverts: FreshAdverts<RunnerAdvert>
  private readonly advertRefreshMs: number
  private advertisedAt = -Infinity
  /** The code in use when this node's code dir was last pruned (undefined: not yet since start). */
  private prunedFor?: string
  private stopLoop: () => void = () => {}

  constructor (components: RunnerComponents, init: RunnerInit = {}) {
    this.c = components
    this.leases = new KeyedLeases(components.self, leaseTimings({ ...DEPLOYMENT_LEASE, ...Object.fromEntries(Object.entries(init).filter(([, val]) => val != null)) }), components.log, 'deployment')
    this.stepMs = init.stepMs ?? 100
    this.claimIdleMs = init.claimIdleMs ?? 2000
    this.progressMs = init.progressMs ?? 2000
    this.advertRefreshMs = init.advertRefreshMs ?? RUNNER_ADVERT_REFRESH_MS
    this.adverts = new FreshAdverts(4 * this.advertRefreshMs)
  }

  start (): void {
    this.advertise(Date.now())
    this.stopLoop = stepLoop(this.stepMs, () => this.step(Date.now()), this.c.log, { idleMs: IDLE_STEP_MS, wakeOn: this.c.store.channel })
  }

  /** Cancels this node's runs and hands their leases over at once, rather than make the next owner wait them out. */
  stop (): void {
    this.stopLoop()
    for (const slot of this.slots.values()) slot.stop(false)
    this.slots.clear()
    releaseHeld(this.c.store, this.leases.keepers, this.c.self, Date.now())
    try { this.c.store.withdraw(this.c.self) } catch {}
  }

  /** Who runs a deployment (the member every node elects), as this node sees the grid now: the candidates read once, asked per deployment. */
  electorate (now: number = Date.now()): (name: string) => string | undefined {
    const candidates = [...this.adverts.candidates(this.c.store.candidates(), now, aliveMembers(this.c.self, this.c.members(), this.c.store.channel, this.c.selfRevoked)).keys()]
    return name => electHolder(name, candidates)
  }

  /** The deployments this node runs now. */
  running (): string[] {
    return [...this.slots.keys()]
  }

  /** One pass over every deployment (the loop calls it; tests may call it with their own clock); false when there is none to run or stop. */
  step (now: number): boolean {
    if (now - this.advertisedAt >= this.advertRefreshMs) this.advertise(now)
    const deployments = this.c.store.deployments()
    for (const name of this.leases.prune(new Set(deployments.map(d => d.name)))) {
      this.slots.get(name)?.stop(false)
      this.slots.delete(name)
      // a renewal or a report crossing the removal would leave our records behind: delete them again (not the
      // record: a delete now would be newer than a redeploy under the name that has not reached us yet)
      if (this.c.store.lease(name)?.holder === this.c.self || this.c.store.progress(name)?.holder === this.c.self) this.c.store.removeRun(name)
    }
    const byName = new Map(deployments.map(d => [d.name, d]))
    const elect = this.electorate(now)
    withdrawAbandoned(this.adverts, this.c.store, this.c.self, this.c.members, now)
    this.leases.each([...byName.keys()], name => { this.stepDeployment(byName.get(name)!, now, elect(name) === this.c.self) })
    this.pruneCode(deployments)
    return byName.size > 0 || this.slots.size > 0
  }

  /**
   * Once the code in use changes (a new version, a removal, a run started or stopped here), the code dir
   * keeps only the files of the deployments stored and of this node's runs (a run of a replaced version
   * may still spawn workers from its files until it stops).
   */
  private pruneCode (deployments: Deployment[]): void {
    const key = [...this.codeInUse(deployments)].sort().join()
    if (key === this.prunedFor) return
    this.prunedFor = key
    // asked again once the dir is listed: a run started meanwhile keeps its files
    this.c.code.prune(() => this.codeInUse(this.c.store.deployments()))
      .catch((err: unknown) => { this.c.log.warn({ err }, 'could not delete the code files of replaced or removed deployments') })
  }

  /** The code hashes of `deployments` and of this node's runs. */
  private codeInUse (deployments: Deployment[]): Set<string> {
    return new Set([...deployments, ...[...this.slots.values()].map(slot => slot.deployment)].flatMap(d => [d.hash, ...d.stages.map(s => s.hash)]))
  }

  /** Writes this member's advert again: the others age out one that stops changing (a member killed, or whose writes they refuse). */
  private advertise (now: number): void {
    this.advertisedAt = now
    try {
      this.c.store.advertise(this.c.self, { at: now })
    } catch (err) {
      this.c.log.warn({ err }, 'could not advertise this member as a deployment runner')
    }
  }

  private stepDeployment (deployment: Deployment, now: number, electedHere: boolean): void {
    const { name } = deployment
    const keeper = this.leases.keeper(name)
    const elected = !deployment.stopped && electedHere
    const decision = keeper.step(now, elected, this.c.store.lease(name), this.c.store.fired(name))
    if (decision.change != null) this.c.log.info({ deployment: name, phase: keeper.phase }, `deployment lease: ${decision.change}`)
    if (decision.write != null) this.c.store.writeLease(name, decision.write)
    const holding = decision.holding
    let slot = this.slots.get(name)
    if (holding == null) {
      if (slot != null) {
        this.c.log.info({ deployment: name, token: slot.token }, 'deployment run stopped: this member no longer owns it')
        slot.stop(deployment.stopped)
        this.slots.delete(name)
      }
      return
    }
    if (slot != null && slot.token === holding.token && sameDeploy(slot.deployment, deployment)) {
      slot.tick(now)
      return
    }
    slot?.stop(false)
    // the fence first: a member back from a pause with an older token sees it and drops its run
    if ((this.c.store.fired(name)?.token ?? -1) < holding.token) this.c.store.writeFired(name, { tick: now, token: holding.token, holder: this.c.self })
    slot = new RunSlot(deployment, holding.token, {
      self: this.c.self,
      code: this.c.code,
      pipeline: this.c.pipeline,
      report: progress => { this.c.store.writeProgress(name, progress) },
      claimIdleMs: this.claimIdleMs,
      progressMs: this.progressMs,
      log: this.c.log
    })
    this.slots.set(name, slot)
  }
}

/**
 * The same deploy, not only the same version: two deploys made at once through two members both write
 * version n+1, the channel keeps one of them everywhere, and an owner that started on the other must
 * start again on the one kept. Every field that shapes the run counts (code, stages, params).
 */
function sameDeploy (a: Deployment, b: Deployment): boolean {
  return a.version === b.version && a.deployedAt === b.deployedAt && a.deployedBy === b.deployedBy && a.hash === b.hash &&
    JSON.stringify(a.stages) === JSON.stringify(b.stages) && JSON.stringify(a.params) === JSON.stringify(b.params)
}
