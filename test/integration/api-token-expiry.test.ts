import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { decodeJwt } from 'jose'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually, within } from './helpers/grid-process.ts'
import { bearer } from './helpers/api-client.ts'
import { openSse, openWs } from './helpers/https-client.ts'

const SECRET = randomBytes(32).toString('hex')
/** How long past its `exp` the node's verifier still takes a token (jwt.ts, for clock skew): its streams end then, as its requests do. */
const CLOCK_TOLERANCE_MS = 5000
/** How long a WebSocket or an event stream may take to be closed after its token stops being accepted. */
const CLOSED_WITHIN_MS = 10_000

/**
 * A bearer token authenticates a WebSocket or an event stream once, at its request, and the stream outlives
 * it: when the token expires, each is closed as one a client certificate opened is when the certificate does
 * (api-cert-revocation.test.ts), and the token opens no new one.
 */
describe('HTTP API: a bearer token expiring while its WebSocket and event stream are open', () => {
  let grid: GridFixture
  let base = ''

  beforeAll(async () => {
    grid = await GridFixture.create(1)
    const secretFile = join(grid.dir, 'jwt.secret')
    await writeFile(secretFile, SECRET, { mode: 0o600 })
    const node = await grid.start('n1', ['--api', '0', '--api-jwt-secret-file', secretFile])
    base = String((await node.firstLine(l => l.msg === 'HTTP API listening')).url)
  })
  afterAll(async () => { await grid?.close() })

  it('closes the WebSocket (1008 "token expired") and ends the event stream when the token expires; a live token\'s socket stays open', async () => {
    const lasting = await bearer(SECRET, 'brief', ['tasks:read', 'tasks:submit'])
    const opened = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { authorization: `Bearer ${lasting}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'live' }) })
    expect(opened.status).toBe(201)
    const session = (await opened.json() as { id: string }).id
    // the same subject's token, valid for 2 s more
    const token = await bearer(SECRET, 'brief', ['tasks:read'], '2s')
    const refusedFrom = decodeJwt(token).exp! * 1000 + CLOCK_TOLERANCE_MS

    const ws = await openWs(base, { token })
    ws.socket.send(JSON.stringify({ op: 'subscribe', session }))
    await eventually(() => ws.messages.find(m => m.op === 'subscribed'))
    const sse = await openSse(base, { token }, `/v1/sessions/${encodeURIComponent(session)}/events`)
    expect(sse.status).toBe(200)
    await eventually(() => sse.text().includes('event: counts') ? true : undefined)
    const kept = await openWs(base, { token: lasting })

    const closed = await within(ws.closed, refusedFrom - Date.now() + CLOSED_WITHIN_MS, 'the WebSocket closed')
    // not while the node would still take the token at a new request
    expect(Date.now()).toBeGreaterThanOrEqual(refusedFrom)
    expect(closed).toEqual({ code: 1008, reason: 'token expired' })
    await within(sse.ended, CLOSED_WITHIN_MS, 'the event stream ended')
    // as an event stream a certificate held ends: a comment saying why
    expect(sse.text()).toMatch(/\n: closed: this bearer token expired at \S+\n\n$/)
    expect(kept.socket.readyState).toBe(kept.socket.OPEN)
    kept.socket.close()
    await expect(openWs(base, { token })).rejects.toThrow(/401/)
  }, 30_000)
})
