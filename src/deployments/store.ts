import * as v from 'valibot'
import type { Channel } from '../channels/channel.ts'
import { LeaseRecords } from '../leases/records.ts'
import { KEY, deploymentSchema, progressSchema } from './types.ts'
import type { Deployment, Progress } from './types.ts'

/**
 * What a member that runs deployments advertises under `n/<peer id>`: `at`, changed at every refresh
 * (leases/fresh-adverts.ts); an advert without it is an older node's, never aged out.
 */
export interface RunnerAdvert {
  at?: number
}
const runnerSchema = v.object({ at: v.optional(v.pipe(v.number(), v.finite())) })

/**
 * The deployments channel, read through schemas (its values come from any
 * member): deployment records, the owners' progress reports, and (from
 * LeaseRecords) each deployment's lease, run-start fence and the runners.
 */
export class DeploymentStore extends LeaseRecords<RunnerAdvert> {
  constructor (channel: Channel) {
    super(channel, runnerSchema)
  }

  deployments (): Deployment[] {
    return this.records('d/', deploymentSchema, d => KEY.deployment(d.name), d => d.name)
  }

  deployment (name: string): Deployment | undefined {
    const parsed = v.safeParse(deploymentSchema, this.channel.get(KEY.deployment(name)))
    return parsed.success && parsed.output.name === name ? parsed.output : undefined
  }

  put (deployment: Deployment): void {
    this.channel.set(KEY.deployment(deployment.name), deployment)
  }

  /** Deletes deployment `name`'s record and what its runs left (removeRun); true if the record was there. */
  remove (name: string): boolean {
    const had = this.channel.delete(KEY.deployment(name))
    this.removeRun(name)
    return had
  }

  /** Deletes what deployment `name`'s runs wrote: its progress report, lease and run-start fence (never its record). */
  removeRun (name: string): void {
    this.channel.delete(KEY.progress(name))
    this.forget(name)
  }

  progress (name: string): Progress | undefined {
    const parsed = v.safeParse(progressSchema, this.channel.get(KEY.progress(name)))
    return parsed.success ? parsed.output : undefined
  }

  writeProgress (name: string, progress: Progress): void {
    this.channel.set(KEY.progress(name), progress)
  }
}
