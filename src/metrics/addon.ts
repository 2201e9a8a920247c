import { defineAddon } from '../addons/addon.ts'
import { serveHttp } from '../addons/http-server.ts'
import { createRegistry } from './collectors.ts'
import { processMetrics } from './process-metrics.ts'
import { checkKnownKeys } from '../checks/check.ts'

export interface MetricsOptions {
  /** 0 picks a free port. */
  port: number
  /** Default 127.0.0.1: widen it (`--metrics-host`) only for a scraper elsewhere. */
  host?: string
  /**
   * Host names the endpoint answers to besides IP addresses, localhost and `host`: a request naming any other
   * host in Host or Origin gets 403, so a DNS-rebinding page cannot read the metrics. Default none.
   */
  allowedHosts?: string[]
}

/** Prometheus text on `http://host:port/metrics`: `node.use(metricsAddon, { port: 9464 })` or `grid node --metrics 9464`. */
export const metricsAddon = defineAddon<MetricsOptions>({
  name: 'metrics',
  async start (ctx, options) {
    checkKnownKeys<MetricsOptions>('metrics', options, { port: true, host: true, allowedHosts: true })
    const { registry, track } = createRegistry(ctx)
    // before listening: ctx.on throws once the node is stopping, and past the bind that would leave the port open
    for (const run of ctx.pipelines()) track(run)
    ctx.on('pipeline:start', track)
    // the process's own figures (CPU, memory, heap, fds, event-loop delay): a node leaking or stalled shows
    const stopProcessMetrics = processMetrics(registry)
    const endpoint = await serveHttp('metrics', (req, res) => {
      const path = new URL(req.url ?? '/', 'http://metrics').pathname
      if (req.method !== 'GET' || path !== '/metrics') { res.writeHead(404).end('try GET /metrics\n'); return }
      registry.metrics().then(
        text => { res.writeHead(200, { 'content-type': registry.contentType }).end(text) },
        (err: Error) => { ctx.log.warn({ err }, 'metrics collection failed'); res.writeHead(500).end() }
      )
    }, { port: options.port, host: options.host, allowedHosts: options.allowedHosts ?? [] }).catch((err: unknown) => {
      stopProcessMetrics()
      throw err
    })
    const url = `${endpoint.origin}/metrics`
    ctx.log.info({ url }, 'metrics listening')
    return {
      url,
      async stop () {
        stopProcessMetrics()
        await endpoint.close()
      }
    }
  }
})
