import { readdirSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Counter, Gauge } from 'prom-client'
import type { Registry } from 'prom-client'

/** Resolution of the event-loop delay sampler (prom-client's default too). */
const LOOP_DELAY_RESOLUTION_MS = 10

/**
 * The node process's own figures under the names stock Node.js dashboards and alerts read (those of
 * prom-client's default metrics): CPU, resident memory, heap, open fds, event-loop delay. Not prom-client's
 * `collectDefaultMetrics` itself: its event-loop sampler and GC observer can never be stopped, so each
 * metrics add-on started in a process (an embedded node stopped and started again) would leave one running.
 * Returns what stops the sampler. Read when scraped; the delay figures cover the time since the last scrape.
 */
export function processMetrics (registry: Registry): () => void {
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS })
  loopDelay.enable()
  const registers = [registry]
  const cpu = (name: string, help: string, pick: (usage: NodeJS.CpuUsage) => number): Counter => new Counter({
    name, help, registers,
    collect () { this.reset(); this.inc(pick(process.cpuUsage()) / 1e6) }
  })
  cpu('process_cpu_user_seconds_total', 'User CPU time spent in seconds', u => u.user)
  cpu('process_cpu_system_seconds_total', 'System CPU time spent in seconds', u => u.system)
  cpu('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds', u => u.user + u.system)
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime())
  new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds', registers, collect () { this.set(startSeconds) } })
  new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes', registers, collect () { this.set(process.memoryUsage.rss()) } })
  if (process.platform === 'linux') {
    new Gauge({
      name: 'process_open_fds', help: 'Number of open file descriptors', registers,
      collect () {
        // less the one the listing itself holds open; none at all (EMFILE) must not fail the whole scrape
        try { this.set(readdirSync('/proc/self/fd').length - 1) } catch {}
      }
    })
  }
  const heap = (name: string, help: string, pick: (usage: NodeJS.MemoryUsage) => number): Gauge => new Gauge({
    name, help, registers, collect () { this.set(pick(process.memoryUsage())) }
  })
  heap('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes', u => u.heapUsed)
  heap('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes', u => u.heapTotal)
  heap('nodejs_external_memory_bytes', 'Node.js external memory size in bytes', u => u.external)
  // the first one registered reads the histogram for all four (the registry collects in that order), then
  // starts the next interval; no sample yet (scraped right after the start) reads NaN
  const seconds = (ns: number): number => Number.isFinite(ns) ? ns / 1e9 : 0
  const delay = (name: string, help: string, collect?: () => void): Gauge => new Gauge({ name, help, registers, ...(collect == null ? {} : { collect }) })
  const mean = delay('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays', () => {
    mean.set(seconds(loopDelay.mean))
    p50.set(seconds(loopDelay.percentile(50)))
    p99.set(seconds(loopDelay.percentile(99)))
    max.set(seconds(loopDelay.max))
    loopDelay.reset()
  })
  const p50 = delay('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays')
  const p99 = delay('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays')
  const max = delay('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay')
  return () => { loopDelay.disable() }
}
