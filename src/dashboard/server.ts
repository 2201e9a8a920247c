import type { IncomingMessage, ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddonHost } from '../addons/host.ts'
import type { MemberEventType } from '../membership/member.ts'
import type { Logger } from '../logger.ts'
import { PAGE } from './page.ts'
import { snapshot } from './snapshot.ts'
import { serveHttp } from '../addons/http-server.ts'

export interface DashboardOptions {
  /** Default 127.0.0.1: the dashboard has no login, so widening it is a decision. */
  host?: string
  /** 0 picks a free port. */
  port: number
  /** How often a snapshot goes to each open page. Default 1000 ms. */
  intervalMs?: number
  /** Open pages at most (each holds a connection). Default 32. */
  maxClients?: number
  /**
   * Host names the dashboard answers to besides IP addresses, localhost and `host` (a request naming any
   * other host in Host or Origin gets 403: a DNS-rebinding page cannot read it). Default none.
   */
  allowedHosts?: string[]
  /** An event-stream reader with more than this many bytes unsent is dropped (it is not reading). Default 1 MiB. */
  maxBufferedBytes?: number
}

export interface Dashboard {
  url: string
  close: () => Promise<void>
}

const require = createRequire(import.meta.url)
const ASSETS: Record<string, { file: string, type: string }> = {
  '/uplot.iife.min.js': { file: 'uplot/dist/uPlot.iife.min.js', type: 'text/javascript' },
  '/uplot.min.css': { file: 'uplot/dist/uPlot.min.css', type: 'text/css' }
}

/**
 * Serves the live dashboard of `node`: the page, its chart library, a JSON
 * snapshot, and `/events` (server-sent events: a snapshot every `intervalMs`
 * and at once on a membership change, one for a burst of them).
 */
export async function startDashboard (node: Pick<AddonHost, 'self' | 'members' | 'pipelines' | 'tasksOverview' | 'on' | 'off'>, options: DashboardOptions, log: Logger): Promise<Dashboard> {
  const intervalMs = options.intervalMs ?? 1000
  const maxClients = options.maxClients ?? 32
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024
  const clients = new Set<ServerResponse>()
  const assets = new Map<string, Buffer>()

  const push = (): void => {
    if (clients.size === 0) return
    const frame = `event: snapshot\ndata: ${JSON.stringify(snapshot(node))}\n\n`
    for (const res of clients) {
      // a reader that does not keep up would make this process buffer every frame for it
      if (res.writableLength > maxBufferedBytes) {
        clients.delete(res)
        res.destroy()
        log.warn({ bufferedBytes: res.writableLength, maxBufferedBytes }, 'dropped a dashboard event stream that was not reading')
        continue
      }
      res.write(frame)
    }
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://dashboard').pathname
    if (req.method !== 'GET') { res.writeHead(405, { allow: 'GET' }).end(); return }
    if (path === '/') { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE); return }
    if (path === '/snapshot.json') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(snapshot(node))); return }
    if (path === '/events') {
      if (clients.size >= maxClients) { res.writeHead(503, { 'retry-after': '5' }).end('too many open dashboards'); return }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
      clients.add(res)
      req.on('close', () => { clients.delete(res) })
      res.write(`retry: 2000\nevent: snapshot\ndata: ${JSON.stringify(snapshot(node))}\n\n`)
      return
    }
    const asset = ASSETS[path]
    if (asset == null) { res.writeHead(404).end('not found'); return }
    try {
      let body = assets.get(path)
      if (body == null) { body = await readFile(require.resolve(asset.file)); assets.set(path, body) }
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'max-age=3600' }).end(body)
    } catch (err) {
      log.warn({ err, asset: asset.file }, 'dashboard asset missing')
      res.writeHead(500).end('asset missing')
    }
  }

  const endpoint = await serveHttp('dashboard', (req, res) => { void handle(req, res) }, { port: options.port, host: options.host, allowedHosts: options.allowedHosts ?? [] })
  // listening first: a port that cannot be bound leaves no timer or listener behind
  // one push for a burst of events (a member sync lists hundreds at once): a full snapshot per event would
  // block the loop and fill a page's buffer past maxBufferedBytes, dropping a page that reads
  let pushPending = false
  const onMembership = (): void => {
    if (pushPending) return
    pushPending = true
    setImmediate(() => { pushPending = false; push() })
  }
  const membershipEvents: MemberEventType[] = ['member:join', 'member:update', 'member:suspect', 'member:fail', 'member:leave', 'member:rejoin']
  try {
    for (const event of membershipEvents) node.on(event, onMembership)
  } catch (err) {
    // an add-on's node that began stopping while the port was bound refuses listeners (the registry's
    // teardown removes any taken before): the port goes too
    await endpoint.close()
    throw err
  }
  const timer = setInterval(push, intervalMs)
  timer.unref()
  const url = `${endpoint.origin}/`
  log.info({ url }, 'dashboard listening')
  return {
    url,
    close: async () => {
      clearInterval(timer)
      for (const event of membershipEvents) node.off(event, onMembership)
      for (const res of clients) res.end()
      clients.clear()
      await endpoint.close()
    }
  }
}
