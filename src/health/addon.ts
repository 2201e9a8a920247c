import { defineAddon } from '../addons/addon.ts'
import { serveHttp } from '../addons/http-server.ts'
import type { AddonContext } from '../addons/addon.ts'
import { checkKnownKeys } from '../checks/check.ts'

export interface HealthOptions {
  /** 0 picks a free port. */
  port: number
  /** Default 127.0.0.1; a kubelet probes the pod's IP: `--health-host 0.0.0.0` there. */
  host?: string
  /**
   * Whether this node is alone by design (started with no peer to join): then it
   * is ready once started. Otherwise it is ready once it sees at least one member.
   */
  alone: boolean
}

/** What `/readyz` answers: ready, and why (or why not). */
export function readiness (ctx: Pick<AddonContext, 'members'> & Partial<Pick<AddonContext, 'ownCertificateRevoked'>>, alone: boolean): { ready: boolean, members: number, reason: string } {
  const members = ctx.members().filter(m => m.state === 'alive' || m.state === 'suspect').length
  // every member refuses it, and it stands down from the grid's jobs: nothing should be routed to it
  if (ctx.ownCertificateRevoked?.() === true) return { ready: false, members, reason: 'this node\'s certificate is revoked' }
  if (members > 0) return { ready: true, members, reason: 'joined' }
  if (alone) return { ready: true, members, reason: 'alone by design (no peer to join)' }
  return { ready: false, members, reason: 'no member seen yet' }
}

/**
 * `grid node --health <port>`: `GET /healthz` answers 200 while the process
 * serves (liveness); `GET /readyz` answers 200 once the node has started and
 * joined (it sees a live member, or it was given no peer) and its certificate is not revoked, else 503 (readiness).
 * Installed when the node has started, so a probe before that finds nothing listening.
 */
export const healthAddon = defineAddon<HealthOptions>({
  name: 'health',
  async start (ctx, options) {
    checkKnownKeys<HealthOptions>('health', options, { port: true, host: true, alone: true })
    const endpoint = await serveHttp('health', (req, res) => {
      const path = new URL(req.url ?? '/', 'http://health').pathname
      if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return }
      if (path === '/healthz') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' })); return }
      if (path === '/readyz') {
        const ready = readiness(ctx, options.alone)
        res.writeHead(ready.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready.ready ? 'ready' : 'not ready', ...ready }))
        return
      }
      res.writeHead(404).end('try GET /healthz or /readyz\n')
    }, { port: options.port, host: options.host })
    ctx.log.info({ url: endpoint.origin }, 'health endpoints listening (/healthz, /readyz)')
    return { url: endpoint.origin, stop: endpoint.close }
  }
})
