import type { Task } from './task.ts'
import type { StatusCounts, TaskInfo, TaskStatus } from './types.ts'

export const FINAL_STATUS_NAMES = ['completed', 'failed', 'timeout', 'cancelled'] as const
export type FinalStatus = typeof FINAL_STATUS_NAMES[number]
export const OPEN_STATUS_NAMES = ['queued', 'dispatched', 'running'] as const

/** Upper bounds (seconds) of the submit → final latency buckets, from 1 ms (task times are kept in ms) to 10 minutes. */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600]

/** Sessions and running tasks an overview lists at most (the counts cover all). */
export const OVERVIEW_LIMIT = 100

/** What the metrics add-on and the dashboard show of a node's tasks (`node.tasksOverview()`). */
export interface TasksOverview {
  /** Tasks that reached each final status since the node started (a session's counts go with the session; these stay). */
  totals: Record<FinalStatus, number>
  /** Attempts retried (a worker or agent lost under a task) since the node started. */
  retries: number
  /** Tasks not final yet, by status, over every session. */
  open: Pick<StatusCounts, typeof OPEN_STATUS_NAMES[number]>
  /** Submit → final of every task since the node started: cumulative counts by upper bound in seconds (Prometheus style). */
  latency: { buckets: Array<{ le: number, count: number }>, sum: number, count: number }
  /** Open sessions, newest first (at most OVERVIEW_LIMIT; `sessionCount` counts all). */
  sessions: Array<{ id: string, name: string, closed: boolean, createdAt: number, counts: StatusCounts }>
  sessionCount: number
  /** Tasks running now, longest running first (at most OVERVIEW_LIMIT; `open.running` counts all). */
  running: TaskInfo[]
  /** The task journal's bytes on disk (its file and write-ahead log); 0 without one. */
  journalBytes: number
  /** Code shipped to this node for its tasks (`<data-dir>/tasks/modules`), in whole 4 KiB blocks as its quota counts it; 0 before any. */
  moduleCacheBytes: number
}

/**
 * Node-wide task figures kept as tasks change status (a few increments per
 * status change), so the metrics add-on counts tasks that ended before it
 * started, and the dashboard lists running tasks without walking every task kept.
 */
export class TaskStats {
  readonly totals: Record<FinalStatus, number> = { completed: 0, failed: 0, timeout: 0, cancelled: 0 }
  retries = 0
  /** Tasks running now. */
  readonly running = new Set<Task>()
  /** Per bucket (not cumulative); the last one is over the highest bound. */
  private readonly latencyCounts = new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0)
  private latencySum = 0

  changed (task: Task, previous: TaskStatus): void {
    if (previous === 'running') this.running.delete(task)
    const status = task.status
    if (status === 'running') this.running.add(task)
    else if (status === 'queued') { if (isRetry(task, previous)) this.retries++ } else if (status !== 'dispatched') this.ended(task, status)
  }

  latency (): TasksOverview['latency'] {
    let cumulative = 0
    const buckets = LATENCY_BUCKETS_S.map((le, i) => ({ le, count: (cumulative += this.latencyCounts[i]!) }))
    return { buckets, sum: this.latencySum, count: cumulative + this.latencyCounts[LATENCY_BUCKETS_S.length]! }
  }

  private ended (task: Task, status: FinalStatus): void {
    this.totals[status]++
    const seconds = Math.max(0, ((task.endedAt ?? Date.now()) - task.submittedAt) / 1000)
    this.latencySum += seconds
    let i = 0
    while (i < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[i]!) i++
    this.latencyCounts[i]!++
  }
}

/** Its change to `queued` (from `previous`) retries a lost attempt: not one taken back from behind a long task, unstarted. */
export function isRetry (task: Task, previous: TaskStatus): boolean {
  return task.status === 'queued' && previous !== 'queued' && !task.recalledUnstarted
}

/** The overview of a node with no task yet. */
export function emptyOverview (): TasksOverview {
  return { totals: new TaskStats().totals, retries: 0, open: { queued: 0, dispatched: 0, running: 0 }, latency: new TaskStats().latency(), sessions: [], sessionCount: 0, running: [], journalBytes: 0, moduleCacheBytes: 0 }
}
