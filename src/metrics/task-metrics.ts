import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import type { AddonHost } from '../addons/host.ts'
import { FINAL_STATUS_NAMES, LATENCY_BUCKETS_S, OPEN_STATUS_NAMES } from '../tasks/stats.ts'
import type { TasksOverview } from '../tasks/stats.ts'

const DURATION = 'gridd_task_duration_seconds'
const DURATION_HELP = 'Tasks this node owns, from submit to their final status (any), since the node started'

/**
 * A histogram read from the counts the node keeps: prom-client's own observes
 * values one at a time from the add-on's start on, and would miss the tasks
 * that ended before it (the node's counts are kept as tasks end, see TaskStats).
 */
class KeptHistogram extends Histogram {
  private readonly read: () => TasksOverview['latency']

  constructor (registry: Registry, read: () => TasksOverview['latency']) {
    super({ name: DURATION, help: DURATION_HELP, buckets: LATENCY_BUCKETS_S, registers: [registry] })
    this.read = read
  }

  /** What the registry prints (it prefers this to `get`, which prom-client builds from it). */
  async getForPromString (): Promise<{ name: string, help: string, type: 'histogram', aggregator: 'sum', values: Array<{ metricName: string, labels: Record<string, string | number>, sharedLabels: Record<string, never>, value: number }> }> {
    const { buckets, sum, count } = this.read()
    const row = (suffix: string, value: number, labels: Record<string, string | number> = {}): { metricName: string, labels: Record<string, string | number>, sharedLabels: Record<string, never>, value: number } => ({ metricName: `${DURATION}_${suffix}`, labels, sharedLabels: {}, value })
    return {
      name: DURATION,
      help: DURATION_HELP,
      type: 'histogram',
      aggregator: 'sum',
      values: [...buckets.map(b => row('bucket', b.count, { le: b.le })), row('bucket', count, { le: '+Inf' }), row('sum', sum), row('count', count)]
    }
  }
}

/**
 * `read`, called once for all the metrics of one scrape: the registry starts every metric's collect in one
 * synchronous pass, and each would read the overview again (which stats the journal's files and lists the
 * sessions and running tasks). The value is dropped at the end of that pass, so the next scrape reads anew.
 */
function oncePerScrape<T> (read: () => T): () => T {
  let held: { value: T } | undefined
  return () => {
    if (held == null) {
      held = { value: read() }
      queueMicrotask(() => { held = undefined })
    }
    return held.value
  }
}

/**
 * The tasks this node owns, read from its overview when scraped: tasks by final
 * status, open tasks by status, retries, open sessions, and the submit → final
 * latency histogram.
 */
export function taskMetrics (registry: Registry, host: Pick<AddonHost, 'tasksOverview'>): void {
  const node = { tasksOverview: oncePerScrape(() => host.tasksOverview()) }
  new Counter({
    name: 'gridd_tasks_total', help: 'Tasks this node owns that reached a final status since the node started, by status', labelNames: ['status'], registers: [registry],
    collect () {
      this.reset()
      const { totals } = node.tasksOverview()
      for (const status of FINAL_STATUS_NAMES) this.inc({ status }, totals[status])
    }
  })
  new Gauge({
    name: 'gridd_tasks_open', help: 'Tasks this node owns that are not final yet, by status (queued, dispatched, running)', labelNames: ['status'], registers: [registry],
    collect () {
      const { open } = node.tasksOverview()
      for (const status of OPEN_STATUS_NAMES) this.set({ status }, open[status])
    }
  })
  new Counter({
    name: 'gridd_task_retries_total', help: 'Task attempts retried (their worker or agent was lost) since the node started', registers: [registry],
    collect () { this.reset(); this.inc(node.tasksOverview().retries) }
  })
  new Gauge({
    name: 'gridd_task_sessions', help: 'Task sessions this node owns that are not done (the default session included)', registers: [registry],
    collect () { this.set(node.tasksOverview().sessionCount) }
  })
  new Gauge({
    name: 'gridd_task_journal_bytes', help: 'Bytes of this node\'s task journal on disk (the SQLite file and its write-ahead log; 0 without one)', registers: [registry],
    collect () { this.set(node.tasksOverview().journalBytes) }
  })
  new Gauge({
    name: 'gridd_task_module_cache_bytes', help: 'Bytes of task code shipped to this node for the tasks it owns (<data-dir>/tasks/modules), in whole 4 KiB blocks as its 64 MiB quota counts them',
    registers: [registry],
    collect () { this.set(node.tasksOverview().moduleCacheBytes) }
  })
  new KeptHistogram(registry, () => node.tasksOverview().latency)
}
