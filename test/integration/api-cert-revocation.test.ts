import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { readCaPair, issueIntoDir } from '../../src/certs/files.ts'
import { issueCertificate } from '../../src/certs/create.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid, within } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import { httpsCall, openSse, openWs, pollKeptAlive } from './helpers/https-client.ts'
import type { ClientPair } from './helpers/https-client.ts'

/** How long a WebSocket or an event stream may take to be closed after the node learns its certificate is no credential. */
const CLOSED_WITHIN_MS = 10_000

/**
 * A client certificate authenticates connections that outlive the moment it stops being a credential:
 * a WebSocket, an event stream, a keep-alive HTTPS connection. Once the node holds a CRL that lists it,
 * or it expires, each is closed or refused (401), not only new connections.
 */
describe('HTTP API over HTTPS: a client certificate revoked or expired while its connections are open', () => {
  let grid: GridFixture
  let node: GridProcess
  let base = ''
  const pollers: Array<ReturnType<typeof pollKeptAlive>> = []

  beforeAll(async () => {
    grid = await GridFixture.create(1)
    node = await grid.start('n1', ['--api', '0', '--api-tls'])
    base = String((await node.firstLine(l => l.msg === 'HTTP API listening')).url)
  })
  afterAll(async () => {
    await cleanup(async () => { await Promise.all(pollers.map(async p => { await p.stop() })) }, async () => { await grid.close() })
  })

  /** An open WebSocket subscribed to a session of `pair`'s own, an event stream of it, and a client polling on one keep-alive connection, answered 200. */
  async function openEverything (pair: ClientPair): Promise<{ ws: Awaited<ReturnType<typeof openWs>>, sse: Awaited<ReturnType<typeof openSse>>, poller: ReturnType<typeof pollKeptAlive>, session: string }> {
    const opened = await httpsCall(base, pair, 'POST', '/v1/sessions', { body: { name: 'live' } })
    expect(opened.status).toBe(201)
    const session = encodeURIComponent(opened.json.id)
    const poller = pollKeptAlive(base, pair, '/v1/members')
    pollers.push(poller)
    await eventually(() => poller.answers[0])
    expect(poller.answers[0]!.status).toBe(200)
    const ws = await openWs(base, pair)
    ws.socket.send(JSON.stringify({ op: 'subscribe', session: opened.json.id }))
    await eventually(() => ws.messages.find(m => m.op === 'subscribed'))
    const sse = await openSse(base, pair, `/v1/sessions/${session}/events`)
    expect(sse.status).toBe(200)
    await eventually(() => sse.text().includes('event: counts') ? true : undefined)
    return { ws, sse, poller, session: opened.json.id }
  }

  /** The poller's connection is refused (401, `why`) from some request on, and it is the connection it polled on before. */
  async function refusedOnSameConnection (poller: ReturnType<typeof pollKeptAlive>, why: RegExp): Promise<void> {
    const refused = await eventually(() => poller.answers.find(a => a.status === 401), CLOSED_WITHIN_MS)
    expect(refused.json).toMatchObject({ code: 'ERR_UNAUTHORIZED' })
    expect(refused.json.detail).toMatch(why)
    expect(refused.socket).toBe(poller.answers[0]!.socket)
    expect(poller.answers.slice(poller.answers.indexOf(refused)).every(a => a.status === 401)).toBe(true)
  }

  it('revoked (grid certs revoke --peer): its WebSocket and event stream are closed, its keep-alive connection answers 401', async () => {
    await issueIntoDir(grid.dir, 'ops', { roles: ['client'] })
    const ops: ClientPair = await loadCerts(grid.dir, 'ops')
    const { ws, sse, poller } = await openEverything(ops)

    const since = node.mark()
    const revoked = await runGrid(['certs', 'revoke', 'ops', '--dir', grid.dir, '--peer', node.address])
    expect(revoked.code, revoked.stderr).toBe(0)
    await node.waitFor(l => l.msg === 'certificate revocation list updated', 15_000, since)
    await eventually(async () => (await httpsCall(base, ops, 'GET', '/v1/members')).status === 401 ? true : undefined)

    const closed = await within(ws.closed, CLOSED_WITHIN_MS, 'the WebSocket closed')
    expect(closed.code).toBe(1008)
    expect(closed.reason).toMatch(/revoked/)
    await within(sse.ended, CLOSED_WITHIN_MS, 'the event stream ended')
    // nothing more is served on the connection it opened before
    await refusedOnSameConnection(poller, /revoked/)
    // nor can it open a new WebSocket
    await expect(openWs(base, ops)).rejects.toThrow(/401/)
  }, 60_000)

  it('expired: its WebSocket and event stream are closed when the certificate ends, its keep-alive connection answers 401', async () => {
    // long enough to open everything on a loaded machine, short enough to expire within the test
    const validMs = 8000
    const ca = await readCaPair(grid.dir)
    const brief: ClientPair = { ca: ca.cert, ...await issueCertificate(ca, { name: 'brief', roles: ['client'], notAfter: new Date(Date.now() + validMs) }) }
    const { ws, sse, poller } = await openEverything(brief)

    const closed = await within(ws.closed, validMs + CLOSED_WITHIN_MS, 'the WebSocket closed')
    expect(closed.code).toBe(1008)
    expect(closed.reason).toMatch(/expired/)
    await within(sse.ended, CLOSED_WITHIN_MS, 'the event stream ended')
    await refusedOnSameConnection(poller, /expired/)
  }, 60_000)
})
