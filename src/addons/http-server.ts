import { createServer } from 'node:http'
import type { RequestListener } from 'node:http'
import { once } from 'node:events'
import { checkOption } from '../checks/check.ts'
import { listenPort } from '../checks/values.ts'
import { hostAllowed, originAllowed } from './host-check.ts'
import { explainServerListenFailure } from '../transport/listen-error.ts'

export interface HttpEndpoint {
  /** `http://host:port` (no trailing slash), with the port actually bound. */
  origin: string
  /** Ends open connections (SSE included) and stops listening. */
  close: () => Promise<void>
}

export interface ServeOptions {
  port: number
  host?: string
  /**
   * Given: requests whose Host (or Origin) names anything but an IP address, localhost, the listening
   * host or one of these names get 403 (against DNS rebinding). Absent: no check.
   */
  allowedHosts?: string[]
}

/** Connections one add-on server holds at once. */
export const MAX_CONNECTIONS = 128

/** The small HTTP servers of the built-in add-ons: a checked port, 127.0.0.1 unless widened, a bounded close. */
export async function serveHttp (what: string, handler: RequestListener, options: ServeOptions): Promise<HttpEndpoint> {
  checkOption(`${what} port`, listenPort, options?.port)
  const host = options.host ?? '127.0.0.1'
  const allowed = options.allowedHosts == null ? undefined : new Set([host, ...options.allowedHosts].map(name => name.toLowerCase()))
  const server = createServer((req, res) => {
    // a target no URL parser takes ("//") would throw in the handler's `new URL`: out of the request event, a crash
    if (!URL.canParse(req.url ?? '/', 'http://served')) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request target')
      return
    }
    if (allowed != null && (!hostAllowed(req.headers.host, allowed) || !originAllowed(req.headers.origin, allowed))) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('host not allowed')
      return
    }
    handler(req, res)
  })
  // a page, a scraper or a probe holds a connection or two: past this, one opened is closed at once (widened
  // with --*-host, the port is anyone's, and each idle socket held would be memory and a descriptor)
  server.maxConnections = MAX_CONNECTIONS
  server.listen(options.port, host)
  try {
    await once(server, 'listening')
  } catch (err) {
    throw explainServerListenFailure(err, what, host, options.port)
  }
  const address = server.address()
  const port = typeof address === 'object' && address != null ? address.port : options.port
  return {
    origin: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
