import type { AddonHost } from '../addons/host.ts'
import type { Member } from '../membership/member.ts'
import type { StageStats } from '../pipeline/types.ts'
import type { TasksOverview } from '../tasks/stats.ts'
import { scheduleRows } from './schedules.ts'
import type { ScheduleRow } from './schedules.ts'
import { deploymentRows } from './deployments.ts'
import type { DeploymentRow } from './deployments.ts'

/** One frame of the dashboard: everything the page draws, as plain JSON. */
export interface DashboardSnapshot {
  at: number
  self: string
  members: Array<Pick<Member, 'id' | 'role' | 'state' | 'weight' | 'strategy' | 'addresses'> & {
    self: boolean
    cpu: number
    workers: number
    maxWorkers: number
    stages: Record<string, number>
  }>
  pipelines: Array<{ name: string, stages: StageStats[] }>
  /** The tasks this node owns: totals, open ones by status, sessions with their counts, running tasks. */
  tasks: Omit<TasksOverview, 'latency'>
  /** The grid's schedules with their next run (from the schedules channel). */
  schedules: ScheduleRow[]
  /** The grid's pipeline deployments with their owner and progress (from the deployments channel). */
  deployments: DeploymentRow[]
}

/** Reads the node's member table, the pipelines and the tasks it owns, and the grid's schedules and deployments; no side effects. */
export function snapshot (node: Pick<AddonHost, 'self' | 'members' | 'pipelines' | 'tasksOverview'> & Partial<Pick<AddonHost, 'channel'>>): DashboardSnapshot {
  const self = node.self()
  const members = [self, ...node.members()].map(m => ({
    id: m.id,
    role: m.role,
    state: m.state,
    weight: m.weight,
    strategy: m.strategy,
    addresses: m.addresses,
    self: m.id === self.id,
    cpu: m.load.cpu,
    workers: m.load.workers,
    maxWorkers: m.load.maxWorkers,
    stages: m.load.stages
  }))
  const { latency: _latency, ...tasks } = node.tasksOverview()
  return { at: Date.now(), self: self.id, members, pipelines: node.pipelines().map(run => ({ name: run.name, stages: run.stats().stages })), tasks, schedules: scheduleRows(node), deployments: deploymentRows(node) }
}
