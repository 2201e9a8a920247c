import { createServer } from 'node:http'
import { once } from 'node:events'
import { defineAddon } from '../addons/addon.ts'
import { createRegistry } from './collectors.ts'
import { ConfigError } from '../errors.ts'

export interface MetricsOptions {
  /** 0 picks a free port. */
  port: number
  /** Default 127.0.0.1: widen it (`--metrics-host`) only for a scraper elsewhere. */
  host?: string
}

/** Prometheus text on `http://host:port/metrics`: `node.use(metricsAddon, { port: 9464 })` or `grid node --metrics 9464`. */
export const metricsAddon = defineAddon<MetricsOptions>({
  name: 'metrics',
  async start (ctx, options) {
    if (!Number.isInteger(options?.port) || options.port < 0 || options.port > 65535) throw new ConfigError('metrics port', `must be 0..65535, got ${String(options?.port)}`)
    const { registry, track } = createRegistry(ctx.node)
    for (const run of ctx.node.pipelines()) track(run)
    ctx.on('pipeline:start', track)
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://metrics').pathname
      if (req.method !== 'GET' || path !== '/metrics') { res.writeHead(404).end('try GET /metrics\n'); return }
      registry.metrics().then(
        text => { res.writeHead(200, { 'content-type': registry.contentType }).end(text) },
        (err: Error) => { ctx.log.warn({ err: err.message }, 'metrics collection failed'); res.writeHead(500).end() }
      )
    })
    const host = options.host ?? '127.0.0.1'
    server.listen(options.port, host)
    await once(server, 'listening')
    const address = server.address()
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address != null ? address.port : options.port}/metrics`
    ctx.log.info({ url }, 'metrics listening')
    return {
      url,
      stop: async () => {
        server.closeAllConnections()
        await new Promise<void>(resolve => { server.close(() => { resolve() }) })
      }
    }
  }
})
