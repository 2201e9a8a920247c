import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { get } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { bearer, readEvents } from './helpers/api-client.ts'
import type { SseEvent } from './helpers/api-client.ts'
import { signHook } from '../../src/api/hooks/signature.ts'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/tasks/${name}`, import.meta.url))
const SECRET = randomBytes(32).toString('hex')
const HOOK_SECRET = randomBytes(24).toString('hex')

/** The number of an event id (`<epoch>.<n>`): 1, 2, 3, … within its stream's log. */
function seqOf (id: string | undefined): number {
  return Number(id?.split('.').at(-1))
}

describe('the HTTP API on a grid node process (--api) with an agent', () => {
  let grid: GridFixture
  let agent: GridProcess
  let apiNode: GridProcess
  let base = ''
  const tokens: Record<string, string> = {}
  const auth = (who: string): Record<string, string> => ({ authorization: `Bearer ${tokens[who]!}` })
  const call = async (method: string, path: string, who?: string, body?: unknown): Promise<{ status: number, type: string, json: any }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(who == null ? {} : auth(who)), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, type: res.headers.get('content-type') ?? '', json: text === '' ? undefined : JSON.parse(text) }
  }
  const enc = encodeURIComponent

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    await writeFile(join(grid.dir, 'jwt.secret'), SECRET, { mode: 0o600 })
    await writeFile(join(grid.dir, 'hook.secret'), HOOK_SECRET, { mode: 0o600 })
    agent = await grid.start('n1', ['--agent', '--workers', '4', '--cpu', '4', '--memory', '2048'])
    apiNode = await grid.start('n2', [
      '--peer', agent.address, '--api', '0', '--api-jwt-secret-file', join(grid.dir, 'jwt.secret'),
      '--task', `noop=${fixture('noop.mjs')}`, '--task', `square=${fixture('square.mjs')}`, '--task', `chatty=${fixture('chatty.mjs')}`,
      '--api-hook', `build=chatty:${join(grid.dir, 'hook.secret')}`, '--api-hook', `square=square:${join(grid.dir, 'hook.secret')}:wait`
    ])
    base = String((await apiNode.firstLine(l => l.msg === 'HTTP API listening')).url)
    for (const [who, scopes] of Object.entries({ reader: ['tasks:read'], submitter: ['tasks:submit', 'tasks:read'], canceller: ['tasks:cancel'], coder: ['tasks:submit', 'tasks:module'], admin: ['admin'], nobody: [] })) {
      // one subject with several tokens: a client reads and cancels only what its own subject submitted
      tokens[who] = await bearer(SECRET, who === 'canceller' || who === 'reader' ? 'submitter' : who, scopes)
    }
    tokens.expired = await bearer(SECRET, 'admin', ['admin'], '-1m')
    tokens.forged = await bearer(randomBytes(32).toString('hex'), 'admin', ['admin'])
    await eventually(async () => {
      const members = await call('GET', '/v1/members', 'reader')
      return (members.json as Array<{ id: string, state: string }>).some(m => m.id === agent.peerId && m.state === 'alive') ? true : undefined
    })
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('answers 401 without (or with a bad) token, 403 without the scope, and 2xx with it, for every route', async () => {
    const submitted = await call('POST', '/v1/tasks', 'submitter', { task: 'noop' })
    expect(submitted.status).toBe(202)
    const session = await call('POST', '/v1/sessions', 'submitter', { name: 'scoped' })
    expect(session.status).toBe(201)
    const task = enc(submitted.json.id)
    const sid = enc(session.json.id)
    const routes: Array<{ method: string, path: string, body?: unknown, scope: string, ok: number, wrong: string }> = [
      { method: 'POST', path: '/v1/tasks', body: { task: 'noop' }, scope: 'submitter', ok: 202, wrong: 'reader' },
      { method: 'GET', path: `/v1/tasks/${task}`, scope: 'reader', ok: 200, wrong: 'canceller' },
      { method: 'DELETE', path: `/v1/tasks/${task}`, scope: 'canceller', ok: 202, wrong: 'reader' },
      { method: 'POST', path: '/v1/sessions', body: {}, scope: 'submitter', ok: 201, wrong: 'reader' },
      { method: 'GET', path: '/v1/sessions', scope: 'reader', ok: 200, wrong: 'canceller' },
      { method: 'GET', path: `/v1/sessions/${sid}`, scope: 'reader', ok: 200, wrong: 'canceller' },
      { method: 'DELETE', path: `/v1/sessions/${sid}`, scope: 'canceller', ok: 202, wrong: 'reader' },
      { method: 'GET', path: '/v1/members', scope: 'reader', ok: 200, wrong: 'canceller' }
    ]
    for (const route of routes) {
      const label = `${route.method} ${route.path}`
      const none = await call(route.method, route.path, undefined, route.body)
      expect(none.status, label).toBe(401)
      expect(none.type, label).toMatch(/^application\/problem\+json/)
      expect(none.json, label).toMatchObject({ status: 401, code: 'ERR_UNAUTHORIZED' })
      expect((await call(route.method, route.path, 'expired', route.body)).status, label).toBe(401)
      expect((await call(route.method, route.path, 'forged', route.body)).status, label).toBe(401)
      const wrong = await call(route.method, route.path, route.wrong, route.body)
      expect(wrong.status, label).toBe(403)
      expect(wrong.json, label).toMatchObject({ code: 'ERR_FORBIDDEN' })
      expect((await call(route.method, route.path, route.scope, route.body)).status, label).toBe(route.ok)
    }
    // admin holds every scope
    expect((await call('GET', '/v1/members', 'admin')).status).toBe(200)
    expect((await call('GET', '/v1/members', 'nobody')).status).toBe(403)
  }, 60_000)

  it('a module path needs tasks:module; a name must be registered; ?wait=1 answers with the value', async () => {
    const byPath = { module: fixture('square.mjs'), input: 6 }
    expect((await call('POST', '/v1/tasks', 'submitter', byPath)).json).toMatchObject({ code: 'ERR_FORBIDDEN' })
    const waited = await call('POST', '/v1/tasks?wait=1', 'coder', byPath)
    expect(waited).toMatchObject({ status: 200, json: { status: 'completed', value: 36 } })
    expect((await call('POST', '/v1/tasks', 'submitter', { task: 'nope' })).json).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' })
    expect((await call('POST', '/v1/tasks', 'submitter', { task: 'square', module: '/x' })).json).toMatchObject({ status: 400, code: 'ERR_VALIDATION' })
    const byName = await call('POST', '/v1/tasks?wait=1', 'submitter', { task: 'square', input: 9 })
    expect(byName.json).toMatchObject({ status: 'completed', value: 81, module: 'square' })
    const got = await call('GET', `/v1/tasks/${enc(byName.json.id)}`, 'reader')
    expect(got.json).toMatchObject({ id: byName.json.id, status: 'completed', value: 81, attempts: 1, agent: agent.peerId })
  }, 30_000)

  it('cancelling: only the submitter (or admin) may; a session counts its tasks by status', async () => {
    const session = await call('POST', '/v1/sessions', 'submitter', { name: 'counted' })
    const long = await call('POST', '/v1/tasks', 'submitter', { task: 'chatty', input: { steps: 200, ms: 50 }, session: session.json.id })
    await call('POST', '/v1/tasks?wait=1', 'submitter', { task: 'square', input: 2, session: session.json.id })
    tokens.stranger = await bearer(SECRET, 'stranger', ['tasks:cancel'])
    expect((await call('DELETE', `/v1/tasks/${enc(long.json.id)}`, 'stranger')).json).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' })
    expect((await call('DELETE', `/v1/tasks/${enc(long.json.id)}`, 'admin')).status).toBe(202)
    const counts = await eventually(async () => {
      const s = await call('GET', `/v1/sessions/${enc(session.json.id)}`, 'reader')
      return s.json.counts.cancelled === 1 ? s.json.counts : undefined
    })
    expect(counts).toMatchObject({ completed: 1, cancelled: 1, queued: 0, running: 0 })
    const listed = await call('GET', '/v1/sessions', 'reader')
    expect((listed.json as Array<{ id: string }>).map(s => s.id)).toContain(session.json.id)
  }, 30_000)

  it('cancelling the default session cancels its tasks and leaves it open: submits without a session still work', async () => {
    const defaultId = `${apiNode.peerId}/s-default`
    const long = await call('POST', '/v1/tasks', 'submitter', { task: 'chatty', input: { steps: 200, ms: 50 } })
    expect(long.json.session).toBe(defaultId)
    const cancelled = await call('DELETE', `/v1/sessions/${enc(defaultId)}`, 'admin')
    expect(cancelled).toMatchObject({ status: 202, json: { id: defaultId, closed: false } })
    await eventually(async () => (await call('GET', `/v1/tasks/${enc(long.json.id)}`, 'reader')).json.status === 'cancelled' ? true : undefined)
    expect(await call('POST', '/v1/tasks?wait=1', 'submitter', { task: 'square', input: 5 })).toMatchObject({ status: 200, json: { session: defaultId, value: 25 } })
  }, 30_000)

  it('a running task\'s event stream has its status changes, progress, log lines and result, with consecutive ids', async () => {
    const submitted = await call('POST', '/v1/tasks', 'submitter', { task: 'chatty', input: { steps: 3, ms: 100 } })
    const { status, events } = await readEvents(`${base}/v1/tasks/${enc(submitted.json.id)}/events`, auth('reader'))
    expect(status).toBe(200)
    expect(events.map(e => seqOf(e.id))).toEqual(events.map((_e, i) => i + 1))
    expect(events.filter(e => e.event === 'status').map(e => (e.data as { status: string }).status)).toContain('running')
    expect(events.filter(e => e.event === 'progress').map(e => (e.data as { value: number }).value)).toContain(3)
    expect(events.filter(e => e.event === 'log').map(e => (e.data as { line: string }).line)).toEqual(['step 1', 'step 2', 'step 3'])
    expect(events.at(-1)).toMatchObject({ event: 'result', data: { task: submitted.json.id, value: { steps: 3 } } })
  }, 30_000)

  it('a reader reconnecting with Last-Event-ID resumes with no event missed and none repeated', async () => {
    const submitted = await call('POST', '/v1/tasks', 'submitter', { task: 'chatty', input: { steps: 15, ms: 60 } })
    const url = `${base}/v1/tasks/${enc(submitted.json.id)}/events`
    const first = await readEvents(url, auth('reader'), events => events.length >= 6)
    const lastId = first.events.at(-1)!.id!
    // while disconnected the task goes on; resume once it is over, so all that follows comes from the replay buffer
    await eventually(async () => (await call('GET', `/v1/tasks/${enc(submitted.json.id)}`, 'reader')).json.status === 'completed' ? true : undefined)
    const rest = await readEvents(url, { ...auth('reader'), 'last-event-id': lastId })
    const all: SseEvent[] = [...first.events, ...rest.events]
    expect(rest.events[0]!.id).toBe(`${lastId.split('.')[0]!}.${seqOf(lastId) + 1}`)
    expect(all.map(e => seqOf(e.id))).toEqual(all.map((_e, i) => i + 1))
    expect(all.filter(e => e.event === 'log')).toHaveLength(15)
    expect(all.at(-1)!.event).toBe('result')
    // a reader that has it all (an EventSource reconnecting after the end) is told to stop: 204
    expect((await readEvents(url, { ...auth('reader'), 'last-event-id': all.at(-1)!.id! })).status).toBe(204)
  }, 30_000)

  it('a WebSocket subscribes to a task and a session, and can resume after an event id', async () => {
    const session = await call('POST', '/v1/sessions', 'submitter', { name: 'ws' })
    const socket = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`, { headers: auth('reader') })
    const messages: any[] = []
    socket.on('message', data => { messages.push(JSON.parse(String(data))) })
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
    try {
      socket.send(JSON.stringify({ op: 'subscribe', session: session.json.id }))
      await eventually(() => messages.some(m => m.op === 'subscribed') ? true : undefined)
      const submitted = await call('POST', '/v1/tasks', 'submitter', { task: 'chatty', input: { steps: 2, ms: 50 }, session: session.json.id })
      socket.send(JSON.stringify({ op: 'subscribe', task: submitted.json.id }))
      await eventually(() => messages.some(m => m.op === 'end' && m.task === undefined && m.id === submitted.json.id) ? true : undefined)
      const taskEvents = messages.filter(m => m.op === 'event' && m.stream === 'task')
      expect(taskEvents.map(m => m.seq)).toEqual(taskEvents.map((_m, i) => i + 1))
      expect(taskEvents.at(-1)).toMatchObject({ type: 'result', data: { value: { steps: 2 } } })
      await eventually(() => messages.some(m => m.op === 'event' && m.stream === 'session' && m.type === 'result') ? true : undefined)
      expect(messages.filter(m => m.stream === 'session' && m.type === 'log').map(m => m.data.line)).toEqual(['step 1', 'step 2'])
      // resume: after event 2 of the (ended) task stream, the replay starts at 3
      const before = messages.length
      socket.send(JSON.stringify({ op: 'subscribe', task: submitted.json.id, after: 2 }))
      await eventually(() => messages.slice(before).some(m => m.op === 'end') ? true : undefined)
      const replayed = messages.slice(before).filter(m => m.op === 'event')
      expect(replayed.map(m => m.seq)).toEqual(taskEvents.slice(2).map(m => m.seq))
      socket.send('not json')
      await eventually(() => messages.some(m => m.op === 'error' && m.code === 'ERR_VALIDATION') ? true : undefined)
    } finally {
      socket.close()
    }
    const refused = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`)
    const status = await new Promise<number>(resolve => { refused.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) }) })
    expect(status).toBe(401)
  }, 30_000)

  it('webhooks: a good signature runs the task (202, or 200 with the result when waiting); a bad one, a stale timestamp and a replay are refused', async () => {
    const post = async (hook: string, body: string, headers: Record<string, string>): Promise<{ status: number, json: any }> => {
      const res = await fetch(`${base}/v1/hooks/${hook}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
      return { status: res.status, json: await res.json() }
    }
    const now = String(Math.floor(Date.now() / 1000))
    const body = JSON.stringify({ steps: 1, ms: 1 })
    const signed = { 'x-gridd-timestamp': now, 'x-hub-signature-256': signHook(HOOK_SECRET, now, body) }
    const accepted = await post('build', body, signed)
    expect(accepted.status).toBe(202)
    // a hook's task is no token subject's: members and admins read it
    await eventually(async () => (await call('GET', `/v1/tasks/${enc(accepted.json.id)}`, 'admin')).json.value?.steps === 1 ? true : undefined)
    expect((await call('GET', `/v1/tasks/${enc(accepted.json.id)}`, 'reader')).status).toBe(404)
    expect(await post('build', body, signed)).toMatchObject({ status: 401, json: { code: 'ERR_HOOK_SIGNATURE', detail: expect.stringMatching(/replay/) } })
    expect(await post('build', body, { ...signed, 'x-hub-signature-256': signHook('wrong secret wrong', now, body) })).toMatchObject({ status: 401, json: { code: 'ERR_HOOK_SIGNATURE' } })
    expect(await post('build', '{"steps":2,"ms":1}', signed)).toMatchObject({ status: 401 })
    const stale = String(Math.floor(Date.now() / 1000) - 3600)
    expect(await post('build', body, { 'x-gridd-timestamp': stale, 'x-hub-signature-256': signHook(HOOK_SECRET, stale, body) })).toMatchObject({ status: 401, json: { detail: expect.stringMatching(/clock/) } })
    expect(await post('build', body, {})).toMatchObject({ status: 401 })
    const waited = await post('square', '12', { 'x-gridd-timestamp': now, 'x-hub-signature-256': signHook(HOOK_SECRET, now, '12') })
    expect(waited).toMatchObject({ status: 200, json: { status: 'completed', value: 144 } })
    expect((await post('nohook', body, signed)).status).toBe(404)
  }, 30_000)

  it('the OpenAPI document lists every route; problems for foreign ids, unknown hosts, oversized bodies', async () => {
    const doc = await (await fetch(`${base}/docs/json`)).json() as { openapi: string, paths: Record<string, Record<string, unknown>> }
    expect(doc.openapi).toMatch(/^3\./)
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map(m => `${m.toUpperCase()} ${path}`)).sort()
    expect(routes).toEqual([
      'DELETE /v1/schedules/{id}', 'DELETE /v1/sessions/{id}', 'DELETE /v1/tasks/{id}', 'GET /v1/members', 'GET /v1/schedules', 'GET /v1/schedules/{id}',
      'GET /v1/sessions', 'GET /v1/sessions/{id}', 'GET /v1/sessions/{id}/events',
      'GET /v1/tasks/{id}', 'GET /v1/tasks/{id}/events', 'GET /v1/ws', 'POST /v1/hooks/{name}', 'POST /v1/schedules', 'POST /v1/schedules/{id}/pause',
      'POST /v1/schedules/{id}/resume', 'POST /v1/sessions', 'POST /v1/sessions/{id}/close', 'POST /v1/tasks'
    ])
    const foreign = await call('GET', `/v1/tasks/${enc(`${agent.peerId}/t-0123456789abcdef`)}`, 'reader')
    expect(foreign.json).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND', owner: agent.peerId })
    // fetch will not send another Host: node:http will, as a DNS-rebinding page's browser would
    const rebound = await new Promise<number>((resolve, reject) => {
      get(`${base}/v1/members`, { headers: { ...auth('reader'), host: 'evil.example' } }, res => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
    })
    expect(rebound).toBe(403)
    const big = await call('POST', '/v1/tasks', 'submitter', { task: 'noop', input: 'x'.repeat(300 * 1024) })
    expect(big.json).toMatchObject({ status: 413, code: 'ERR_BODY_TOO_LARGE' })
  }, 30_000)

  it('over HTTPS (--api-tls) a client certificate of the grid is a credential: its roles grant scopes; another CA\'s is not', async () => {
    await issueIntoDir(grid.dir, 'c1', { roles: ['client'] })
    await issueIntoDir(grid.dir, 'a1', { roles: ['agent'] })
    await issueIntoDir(grid.dir, 'api2', { roles: ['member'] })
    const foreignDir = await mkdtemp(join(tmpdir(), 'gridd-it-foreign-'))
    grid.onClose(async () => { await rm(foreignDir, { recursive: true, force: true }) })
    await initCertsDir(foreignDir)
    await issueIntoDir(foreignDir, 'c1', { roles: ['client', 'member', 'admin'] })
    // an agent of its own with room: n1's slots are held by n2's idle workers of the tests before, which its
    // tasks would wait ~30 s for (their pools drain only then)
    await grid.start('n3', ['--peer', agent.address, '--agent', '--workers', '2', '--cpu', '2', '--memory', '1024'])
    const tlsNode = await grid.start('api2', ['--peer', agent.address, '--api', '0', '--api-tls', '--task', `square=${fixture('square.mjs')}`])
    const httpsBase = String((await tlsNode.firstLine(l => l.msg === 'HTTP API listening')).url)
    expect(httpsBase).toMatch(/^https:/)
    const ca = (await loadCerts(grid.dir, 'c1')).ca
    const as = async (who: { dir: string, name: string } | undefined, method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> => {
      const pair = who == null ? undefined : await loadCerts(who.dir, who.name)
      return await new Promise((resolve, reject) => {
        const req = httpsRequest(`${httpsBase}${path}`, {
          method,
          ca,
          cert: pair?.cert,
          key: pair?.key,
          // the node's certificate names the node, not 127.0.0.1: the CA is what is checked here
          checkServerIdentity: () => undefined,
          headers: body === undefined ? {} : { 'content-type': 'application/json' }
        }, res => {
          let text = ''
          res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => { resolve({ status: res.statusCode ?? 0, json: text === '' ? undefined : JSON.parse(text) }) })
        })
        req.on('error', reject)
        req.end(body === undefined ? undefined : JSON.stringify(body))
      })
    }
    const client = { dir: grid.dir, name: 'c1' }
    const member = { dir: grid.dir, name: 'n1' }
    expect((await as(undefined, 'GET', '/v1/members')).status).toBe(401)
    expect((await as({ dir: foreignDir, name: 'c1' }, 'GET', '/v1/members')).status).toBe(401)
    expect((await as({ dir: grid.dir, name: 'a1' }, 'GET', '/v1/members')).status).toBe(403)
    expect((await as(client, 'GET', '/v1/members')).status).toBe(200)
    expect(await as(client, 'POST', '/v1/tasks?wait=1', { task: 'square', input: 5 })).toMatchObject({ status: 200, json: { value: 25 } })
    expect((await as(client, 'POST', '/v1/tasks', { module: fixture('square.mjs'), input: 5 })).status).toBe(403)
    expect(await as(member, 'POST', '/v1/tasks?wait=1', { module: fixture('square.mjs'), input: 4 })).toMatchObject({ status: 200, json: { value: 16 } })
    // a client certificate reads what it submitted, not another client's (404); a member reads all
    await issueIntoDir(grid.dir, 'c2', { roles: ['client'] })
    const own = await as(client, 'POST', '/v1/tasks?wait=1', { task: 'square', input: 7 })
    expect((await as(client, 'GET', `/v1/tasks/${encodeURIComponent(own.json.id)}`)).json).toMatchObject({ value: 49 })
    expect((await as({ dir: grid.dir, name: 'c2' }, 'GET', `/v1/tasks/${encodeURIComponent(own.json.id)}`)).json).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' })
    expect((await as(member, 'GET', `/v1/tasks/${encodeURIComponent(own.json.id)}`)).json).toMatchObject({ value: 49 })
    // the node's newest CRL binds its HTTPS clients too: once c1 is revoked, its certificate is no credential
    const since = tlsNode.mark()
    const revoked = await runGrid(['certs', 'revoke', 'c1', '--dir', grid.dir, '--peer', tlsNode.address])
    expect(revoked.code, revoked.stderr).toBe(0)
    await tlsNode.waitFor(l => l.msg === 'certificate revocation list updated', 15_000, since)
    expect(await as(client, 'GET', '/v1/members')).toMatchObject({ status: 401, json: { code: 'ERR_UNAUTHORIZED' } })
    expect((await as(member, 'GET', '/v1/members')).status).toBe(200)
  }, 60_000)

  // last: its long task fills the agent's 4 worker slots with chatty workers (and a warm spare), which a later
  // test's other node would wait ~30 s for, until an idle one exits
  it('a client reads, follows and cancels only what it submitted (another\'s is 404, as an id that does not exist); members and admins read all', async () => {
    for (const who of ['alice', 'bob']) tokens[who] = await bearer(SECRET, who, ['tasks:read', 'tasks:submit', 'tasks:cancel'])
    tokens.member = await bearer(SECRET, 'member', ['tasks:read', 'tasks:submit', 'tasks:module'])
    const long = await call('POST', '/v1/tasks', 'alice', { task: 'chatty', input: { steps: 200, ms: 50 } })
    const session = await call('POST', '/v1/sessions', 'alice', { name: 'alice' })
    const done = await call('POST', '/v1/tasks?wait=1', 'alice', { task: 'square', input: 3, session: session.json.id })
    expect(done.json).toMatchObject({ status: 'completed', value: 9 })
    const [task, finished, sid] = [enc(long.json.id), enc(done.json.id), enc(session.json.id)]
    const nowhere = `${apiNode.peerId}/t-00000000000000000000`
    const missing = await call('GET', `/v1/tasks/${enc(nowhere)}`, 'bob')
    const hidden = await call('GET', `/v1/tasks/${task}`, 'bob')
    expect(hidden).toMatchObject({ status: 404, json: { code: 'ERR_NOT_FOUND' } })
    expect(hidden.json.detail.replace(long.json.id, 'ID')).toBe(missing.json.detail.replace(nowhere, 'ID'))
    expect((await call('GET', `/v1/tasks/${finished}`, 'bob')).status).toBe(404)
    expect((await readEvents(`${base}/v1/tasks/${task}/events`, auth('bob'))).status).toBe(404)
    expect((await readEvents(`${base}/v1/tasks/${finished}/events`, auth('bob'))).status).toBe(404)
    expect((await call('DELETE', `/v1/tasks/${task}`, 'bob')).json).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' })
    expect((await call('DELETE', `/v1/tasks/${finished}`, 'bob')).status).toBe(404)
    for (const [method, path] of [['GET', `/v1/sessions/${sid}`], ['POST', `/v1/sessions/${sid}/close`], ['DELETE', `/v1/sessions/${sid}`]] as const) {
      expect((await call(method, path, 'bob')).status, `${method} ${path}`).toBe(404)
    }
    expect((await readEvents(`${base}/v1/sessions/${sid}/events`, auth('bob'))).status).toBe(404)
    // nor may it put its own tasks into another's session, whose stream would carry them
    expect((await call('POST', '/v1/tasks', 'bob', { task: 'noop', session: session.json.id })).status).toBe(404)
    // the default session holds everyone's tasks
    expect((await call('GET', `/v1/sessions/${enc(`${apiNode.peerId}/s-default`)}`, 'bob')).status).toBe(404)
    expect((await call('GET', '/v1/sessions', 'bob')).json.map((s: { id: string }) => s.id)).not.toContain(session.json.id)
    expect((await call('GET', '/v1/sessions', 'alice')).json.map((s: { id: string }) => s.id)).toEqual([session.json.id])
    const socket = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`, { headers: auth('bob') })
    const messages: any[] = []
    socket.on('message', data => { messages.push(JSON.parse(String(data))) })
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
    try {
      socket.send(JSON.stringify({ op: 'subscribe', task: long.json.id }))
      socket.send(JSON.stringify({ op: 'subscribe', session: session.json.id }))
      await eventually(() => messages.filter(m => m.op === 'error').length === 2 ? true : undefined)
      expect(messages.map(m => [m.op, m.code])).toEqual([['error', 'ERR_NOT_FOUND'], ['error', 'ERR_NOT_FOUND']])
    } finally {
      socket.close()
    }
    // the submitter, a member and an admin see it; the refused DELETE cancelled nothing
    expect((await call('GET', `/v1/tasks/${task}`, 'alice')).json.status).not.toBe('cancelled')
    expect((await call('GET', `/v1/tasks/${finished}`, 'member')).json).toMatchObject({ value: 9 })
    expect((await call('GET', `/v1/sessions/${sid}`, 'member')).status).toBe(200)
    expect((await call('GET', '/v1/sessions', 'member')).json.map((s: { id: string }) => s.id)).toContain(session.json.id)
    expect((await readEvents(`${base}/v1/tasks/${finished}/events`, auth('admin'))).events.at(-1)).toMatchObject({ event: 'result', data: { value: 9 } })
    expect((await call('DELETE', `/v1/tasks/${task}`, 'admin')).status).toBe(202)
    expect((await call('DELETE', `/v1/sessions/${sid}`, 'alice')).status).toBe(202)
  }, 30_000)
})
