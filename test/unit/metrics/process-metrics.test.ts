import { describe, it, expect } from 'vitest'
import { Registry } from 'prom-client'
import { processMetrics } from '../../../src/metrics/process-metrics.ts'
import { parse, value } from '../../integration/helpers/prom-text.ts'

describe('processMetrics', () => {
  it('reads the process figures when scraped, under the usual names; the event-loop delay covers the time since the last scrape', async () => {
    const registry = new Registry()
    const stop = processMetrics(registry)
    try {
      // a 200 ms busy loop between two timers: the delay sampler sees it
      await new Promise(resolve => setTimeout(resolve, 30))
      const until = performance.now() + 200
      while (performance.now() < until) { /* busy */ }
      await new Promise(resolve => setTimeout(resolve, 30))
      const samples = parse(await registry.metrics())
      expect(value(samples, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024)
      expect(value(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0)
      expect(value(samples, 'process_start_time_seconds')).toBeLessThanOrEqual(Date.now() / 1000)
      expect(value(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0)
      expect(value(samples, 'process_open_fds')).toBeGreaterThan(2)
      const busyMax = value(samples, 'nodejs_eventloop_lag_max_seconds')!
      expect(busyMax).toBeGreaterThanOrEqual(0.19)
      expect(value(samples, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(value(samples, 'nodejs_eventloop_lag_p50_seconds')!)
      // reset at each scrape: the next one, right after, no longer holds the busy loop
      const next = parse(await registry.metrics())
      expect(value(next, 'nodejs_eventloop_lag_max_seconds')).toBeLessThan(busyMax)
    } finally {
      stop()
    }
  })
})
