import { describe, it, expect, afterEach, vi } from 'vitest'
import { connect } from 'node:net'
import { once } from 'node:events'
import { startDashboard } from '../../../src/dashboard/server.ts'
import type { Dashboard, DashboardOptions } from '../../../src/dashboard/server.ts'
import { hostAllowed, originAllowed } from '../../../src/addons/host-check.ts'
import { pino } from 'pino'
import { entry } from '../membership/helpers.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'
import { statusOf as get } from '../addons/http-get.ts'

/** The dashboard's warnings, kept to wait on. */
const warnings: string[] = []
const log = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line) } })

/** A node of `count` members with long addresses: each snapshot frame is large, so a stalled reader fills buffers fast. */
function fakeNode (count: number) {
  const members = Array.from({ length: count }, (_, i) => ({ ...entry(`member-${i}`, { addresses: [`/dns4/${'a'.repeat(200)}.example/tcp/${i}`] }), lastSeenMs: 0 }))
  return { self: () => members[0]!, members: () => members.slice(1), pipelines: () => [], tasksOverview: emptyOverview, on: () => {}, off: () => {} }
}

describe('dashboard: DNS rebinding and slow event-stream readers (issue 14)', () => {
  let dashboard: Dashboard | undefined

  afterEach(async () => {
    await dashboard?.close()
    dashboard = undefined
  })

  async function start (options: Partial<DashboardOptions> = {}, members = 3): Promise<{ url: string, port: number }> {
    dashboard = await startDashboard(fakeNode(members), { port: 0, ...options }, log)
    return { url: dashboard.url, port: Number(new URL(dashboard.url).port) }
  }

  it('answers 403 to a forged Host or Origin (a rebinding page), 200 to IP, localhost and configured names', async () => {
    const { url, port } = await start({ allowedHosts: ['grid.internal'] })
    expect(await get(url, '/snapshot.json', { host: `evil.example:${port}` })).toBe(403)
    expect(await get(url, '/events', { host: `evil.example:${port}` })).toBe(403)
    expect(await get(url, '/snapshot.json', { host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).toBe(403)
    expect(await get(url, '/snapshot.json', { host: `127.0.0.1:${port}`, origin: 'null' })).toBe(403)
    expect(await get(url, '/snapshot.json', { host: `127.0.0.1:${port}` })).toBe(200)
    expect(await get(url, '/snapshot.json', { host: `localhost:${port}`, origin: `http://localhost:${port}` })).toBe(200)
    expect(await get(url, '/snapshot.json', { host: `[::1]:${port}` })).toBe(200)
    expect(await get(url, '/', { host: `GRID.internal:${port}` })).toBe(200)
  })

  it('hostAllowed / originAllowed: IP literals, localhost names and the allowed set only', () => {
    const allowed = new Set(['grid.internal'])
    expect(hostAllowed('10.1.2.3:8080', allowed)).toBe(true)
    expect(hostAllowed('app.localhost', allowed)).toBe(true)
    expect(hostAllowed('grid.internal', allowed)).toBe(true)
    expect(hostAllowed('localhost.evil.example', allowed)).toBe(false)
    expect(hostAllowed(undefined, allowed)).toBe(false)
    expect(hostAllowed('bad host', allowed)).toBe(false)
    expect(originAllowed(undefined, allowed)).toBe(true)
    expect(originAllowed('http://grid.internal:8080', allowed)).toBe(true)
    expect(originAllowed('https://evil.example', allowed)).toBe(false)
  })

  it('drops an event-stream reader that stops reading once its unsent bytes pass maxBufferedBytes', async () => {
    // frames of ~60 KB every 10 ms: a reader that never reads fills the socket buffers, then the server's
    const { port } = await start({ intervalMs: 10, maxBufferedBytes: 256 * 1024 }, 200)
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`)
    await once(socket, 'data')
    socket.pause()
    // generous: kernel buffers on loopback take a few MB before the server's own buffer grows
    await vi.waitFor(() => { expect(warnings.join('')).toContain('not reading') }, { timeout: 20_000, interval: 50 })
    // reading again, the client drains what was sent and then finds the connection closed by the server
    const closed = once(socket, 'close').then(() => 'closed' as const)
    socket.resume()
    const outcome = await Promise.race([closed, new Promise<'open'>(resolve => setTimeout(() => resolve('open'), 10_000))])
    socket.destroy()
    expect(outcome).toBe('closed')
  })
})
