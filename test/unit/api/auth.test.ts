import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairSync } from 'node:crypto'
import { request } from 'node:http'
import { SignJWT, exportJWK } from 'jose'
import { startApiServer } from '../../../src/api/server.ts'
import type { ApiServer } from '../../../src/api/server.ts'
import { jwtVerifier } from '../../../src/api/auth/jwt.ts'
import { signHook } from '../../../src/api/hooks/signature.ts'
import { HOOK_CLIENTS } from '../../../src/api/routes/hooks.ts'
import { ConfigError, ERR_UNAUTHORIZED } from '../../../src/errors.ts'
import { stubNode } from './stub-node.ts'
import { MAX_REMOTE_SESSIONS_PER_CALLER } from '../../../src/tasks/submit-budget.ts'
import { MAX_OPEN_INPUT_BYTES_PER_PEER } from '../../../src/tasks/submit-budget.ts'

const dirs: string[] = []
const servers: ApiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async s => { await s.close() }))
  await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
})

async function file (name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gridd-api-'))
  dirs.push(dir)
  await writeFile(join(dir, name), text)
  return join(dir, name)
}

const sign = async (claims: Record<string, unknown>, alg: string, key: Parameters<SignJWT['sign']>[0], kid?: string): Promise<string> =>
  await new SignJWT(claims).setProtectedHeader({ alg, ...(kid == null ? {} : { kid }) }).sign(key)

/** POSTs `body` to `url` from the local address `from` (any of 127.0.0.0/8: another client to the server); its status. */
async function postFrom (from: string, url: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress: from, headers: { 'content-type': 'application/json', ...headers } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end(body)
  })
}

describe('bearer tokens', () => {
  const future = Math.floor(Date.now() / 1000) + 300

  it('Ed25519 and P-256 public key files verify EdDSA and ES256 tokens; another key, a missing exp or sub are refused', async () => {
    for (const [type, alg] of [['ed25519', 'EdDSA'], ['ec', 'ES256']] as const) {
      const pair = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519')
      const other = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519')
      const verify = await jwtVerifier({ publicKeyFile: await file('key.pem', pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()) })
      const principal = await verify(await sign({ sub: 'ci', scope: 'tasks:read bogus', exp: future }, alg, pair.privateKey))
      expect({ subject: principal.subject, scopes: [...principal.scopes] }).toEqual({ subject: 'ci', scopes: ['tasks:read'] })
      await expect(verify(await sign({ sub: 'ci', exp: future }, alg, other.privateKey))).rejects.toMatchObject({ code: ERR_UNAUTHORIZED })
      await expect(verify(await sign({ sub: 'ci' }, alg, pair.privateKey))).rejects.toMatchObject({ code: ERR_UNAUTHORIZED, message: expect.stringMatching(/exp/) })
      await expect(verify(await sign({ exp: future }, alg, pair.privateKey))).rejects.toMatchObject({ code: ERR_UNAUTHORIZED, message: expect.stringMatching(/sub/) })
      // a sub naming a caller that is not a token (a CLI peer owns schedules as peer:<id>) would act as it
      // and one named as a long subject's hash, which tasks record as their submitter (ownership.ts)
      for (const sub of ['peer:12D3KooWxyz', 'cert:ops', 'hook:deploy', `sha256:${'ab'.repeat(32)}`]) {
        await expect(verify(await sign({ sub, exp: future }, alg, pair.privateKey))).rejects.toMatchObject({ code: ERR_UNAUTHORIZED, message: expect.stringContaining(`"${sub}"`) })
      }
    }
  })

  it('a JWKS file verifies tokens by kid; an HS256 token is not accepted by a public-key verifier', async () => {
    const pair = generateKeyPairSync('ed25519')
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'EdDSA' }
    const verify = await jwtVerifier({ jwksFile: await file('jwks.json', JSON.stringify({ keys: [jwk] })) })
    expect((await verify(await sign({ sub: 'a', scp: ['admin'], exp: future }, 'EdDSA', pair.privateKey, 'k1'))).scopes.has('admin')).toBe(true)
    await expect(verify(await sign({ sub: 'a', exp: future }, 'HS256', new Uint8Array(32), 'k1'))).rejects.toMatchObject({ code: ERR_UNAUTHORIZED })
  })

  it('a shared secret shorter than 32 bytes, or two key sources, are configuration errors', async () => {
    await expect(jwtVerifier({ secretFile: await file('s', 'short\n') })).rejects.toBeInstanceOf(ConfigError)
    await expect(jwtVerifier({ secretFile: '/a', jwksFile: '/b' })).rejects.toBeInstanceOf(ConfigError)
  })
})

describe('the API server (in process, stub node)', () => {
  it('limits requests per token subject (429 with Retry-After and ERR_RATE_LIMITED), each subject on its own', async () => {
    const secret = 'x'.repeat(40)
    const { node } = stubNode()
    const server = await startApiServer(node, { port: 0, jwt: { secretFile: await file('s', secret) }, rateLimit: 3, rateWindowMs: 60_000 })
    servers.push(server)
    const token = async (sub: string): Promise<string> => await sign({ sub, scope: 'tasks:read', exp: Math.floor(Date.now() / 1000) + 300 }, 'HS256', new TextEncoder().encode(secret))
    const a = await token('a')
    const statuses: number[] = []
    let limited: Response | undefined
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${server.url}/v1/members`, { headers: { authorization: `Bearer ${a}` } })
      statuses.push(res.status)
      if (res.status === 429) limited = res
      else await res.arrayBuffer()
    }
    expect(statuses).toEqual([200, 200, 200, 429])
    expect(limited!.headers.get('content-type')).toMatch(/problem\+json/)
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await limited!.json()).toMatchObject({ code: 'ERR_RATE_LIMITED', status: 429 })
    expect((await fetch(`${server.url}/v1/members`, { headers: { authorization: `Bearer ${await token('b')}` } })).status).toBe(200)
  })

  it('DELETE on the default session cancels its open tasks and leaves it open: the node\'s own submits still go there', async () => {
    const secret = 'd'.repeat(40)
    const { node, session } = stubNode()
    const server = await startApiServer(node, { port: 0, jwt: { secretFile: await file('s', secret) } })
    servers.push(server)
    const admin = await sign({ sub: 'root', scope: 'admin', exp: Math.floor(Date.now() / 1000) + 300 }, 'HS256', new TextEncoder().encode(secret))
    const open = session.submit('noop', 1)
    const res = await fetch(`${server.url}/v1/sessions/${encodeURIComponent(session.id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ id: 'P/s-default', closed: false, counts: { cancelled: 1 } })
    expect(open.status).toBe('cancelled')
    expect(session.submit('noop', 2).status).toBe('queued')
  })

  it('what a subject holds open through the API is bounded: sessions (64) and tasks\' inputs (64 MiB; ERR_TASK_LIMIT, 429); closing a session or ending tasks gives room back', async () => {
    const secret = 'q'.repeat(40)
    const { node, queued } = stubNode()
    const server = await startApiServer(node, { port: 0, jwt: { secretFile: await file('s', secret) }, bodyLimitBytes: 4 * 1024 * 1024 })
    servers.push(server)
    const token = async (sub: string): Promise<string> => await sign({ sub, scope: 'tasks:submit tasks:read tasks:cancel', exp: Math.floor(Date.now() / 1000) + 300 }, 'HS256', new TextEncoder().encode(secret))
    const ci = { authorization: `Bearer ${await token('ci')}`, 'content-type': 'application/json' }
    const post = async (path: string, body: unknown, headers = ci): Promise<Response> => await fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
    const opened: string[] = []
    for (let i = 0; i < MAX_REMOTE_SESSIONS_PER_CALLER; i++) {
      const res = await post('/v1/sessions', {})
      expect(res.status).toBe(201)
      opened.push(((await res.json()) as { id: string }).id)
    }
    const refused = await post('/v1/sessions', {})
    expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([429, 'ERR_TASK_LIMIT'])
    // another subject has room of its own
    expect((await post('/v1/sessions', {}, { ...ci, authorization: `Bearer ${await token('other')}` })).status).toBe(201)
    // closed (by its submitter: another subject does not even see it) and done, a session gives its room back
    expect((await post(`/v1/sessions/${encodeURIComponent(opened[0]!)}/close`, {}, { ...ci, authorization: `Bearer ${await token('other')}` })).status).toBe(404)
    const closed = await post(`/v1/sessions/${encodeURIComponent(opened[0]!)}/close`, {})
    expect([closed.status, ((await closed.json()) as { closed: boolean }).closed]).toEqual([202, true])
    await new Promise(resolve => setTimeout(resolve, 10))
    expect((await post('/v1/sessions', {})).status).toBe(201)
    // the default session cannot be closed (and holds everyone's tasks: a client does not see it)
    expect((await post('/v1/sessions/P%2Fs-default/close', {})).status).toBe(404)
    // tasks: their inputs at most 64 MiB per subject (3 MiB each: 21 fit); ending one gives its room back
    const input = 'x'.repeat(3 * 1024 * 1024)
    const fits = Math.floor(MAX_OPEN_INPUT_BYTES_PER_PEER / (input.length + 2))
    for (let i = 0; i < fits; i++) expect((await post('/v1/tasks', { task: 'noop', input })).status).toBe(202)
    const full = await post('/v1/tasks', { task: 'noop', input })
    expect([full.status, ((await full.json()) as { code: string }).code]).toEqual([429, 'ERR_TASK_LIMIT'])
    queued.find(t => t.input === input)!.mark('cancelled', { name: 'TaskCancelledError', message: 'test' })
    await new Promise(resolve => setTimeout(resolve, 10))
    expect((await post('/v1/tasks', { task: 'noop', input })).status).toBe(202)
  }, 60_000)

  it('webhook calls are limited per client address and route (a query, another spelling or another hook name is the same bucket): junk from one address does not starve a signed sender', async () => {
    const hookSecret = 'k'.repeat(32)
    const { node, queued } = stubNode()
    const server = await startApiServer(node, { port: 0, rateLimit: 3, rateWindowMs: 60_000, hooks: [{ name: 'h', task: 'noop', secretFile: await file('hook', hookSecret) }] })
    servers.push(server)
    const junk = async (paths: string[]): Promise<number[]> => {
      const statuses: number[] = []
      for (const path of paths) statuses.push(await postFrom('127.0.0.1', `${server.url}${path}`, '{}'))
      return statuses
    }
    expect(await junk(['/v1/hooks/h', '/v1/hooks/h', '/v1/hooks/h', '/v1/hooks/h'])).toEqual([401, 401, 401, 429])
    const ts = String(Math.floor(Date.now() / 1000))
    expect(await postFrom('127.0.0.2', `${server.url}/v1/hooks/h`, '{}', { 'x-gridd-timestamp': ts, 'x-hub-signature-256': signHook(hookSecret, ts, '{}') })).toBe(202)
    expect(queued).toHaveLength(1)
    expect(await junk(['/v1/hooks/h?a=1', '/v1/hooks/%68', '/v1/hooks/another'])).toEqual([429, 429, 429])
  })

  it('all verified webhook calls together are bounded (HOOK_CLIENTS clients\' worth per window); unsigned junk from many addresses does not count', async () => {
    const hookSecret = 'k'.repeat(32)
    const { node } = stubNode()
    const server = await startApiServer(node, { port: 0, rateLimit: 2, rateWindowMs: 60_000, hooks: [{ name: 'h', task: 'noop', secretFile: await file('hook', hookSecret) }] })
    servers.push(server)
    let n = 0
    const signed = async (from: string): Promise<number> => {
      const ts = String(Math.floor(Date.now() / 1000))
      const body = JSON.stringify({ n: n++ })
      return await postFrom(from, `${server.url}/v1/hooks/h`, body, { 'x-gridd-timestamp': ts, 'x-hub-signature-256': signHook(hookSecret, ts, body) })
    }
    // junk from more addresses than the shared bound: each refused by its signature, none counted there
    const junk: number[] = []
    for (let client = 100; client <= 100 + HOOK_CLIENTS; client++) for (let i = 0; i < 2; i++) junk.push(await postFrom(`127.0.0.${client}`, `${server.url}/v1/hooks/h`, '{}'))
    expect(junk.every(s => s === 401)).toBe(true)
    const statuses: number[] = []
    for (let client = 1; client <= HOOK_CLIENTS + 1; client++) for (let i = 0; i < 2; i++) statuses.push(await signed(`127.0.0.${client}`))
    expect(statuses.slice(0, 2 * HOOK_CLIENTS).every(s => s === 202)).toBe(true)
    expect(statuses.slice(2 * HOOK_CLIENTS)).toEqual([429, 429])
  })

  it('without a verifier every scoped route answers 401; an unknown route a 404 problem', async () => {
    const { node } = stubNode()
    const server = await startApiServer(node, { port: 0 })
    servers.push(server)
    const res = await fetch(`${server.url}/v1/sessions`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect(await (await fetch(`${server.url}/nowhere`)).json()).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' })
    // an id pasted as it prints: its '/' splits it, and the 404 says how to write it
    const id = '12D3KooWGFJ5jV7DZAYHJAX5H7Ao48mxr69ed3H6qpSA3zqBTUTS/t-73175c5f4e26fccb1'
    for (const path of [`/v1/tasks/${id}`, `/v1/tasks/${id}/events`]) {
      const problem = await (await fetch(server.url + path)).json() as { status: number, detail: string }
      expect(problem.status, path).toBe(404)
      expect(problem.detail, path).toContain(`encode it as %2F, ${id.replace('/', '%2F')}`)
    }
  })

  it('a malformed or overlong id in the path is a problem with a gridd code, like every other error', async () => {
    const { node } = stubNode()
    const server = await startApiServer(node, { port: 0 })
    servers.push(server)
    for (const path of ['/v1/tasks/%ZZ', `/v1/tasks/${'a'.repeat(150)}`, `/v1/sessions/${'s'.repeat(150)}/events`]) {
      const res = await fetch(server.url + path)
      expect(res.status, path).toBe(400)
      expect(res.headers.get('content-type'), path).toMatch(/^application\/problem\+json/)
      expect(await res.json(), path).toMatchObject({ status: 400, code: 'ERR_VALIDATION', type: 'urn:gridd:error:ERR_VALIDATION' })
    }
  })

  it('an input nested past what JSON.stringify can measure is a 400 naming it, not a 500: as a task\'s input or a schedule\'s', async () => {
    const secret = 'n'.repeat(40)
    const { node } = stubNode()
    const server = await startApiServer(node, { port: 0, jwt: { secretFile: await file('s', secret) } })
    servers.push(server)
    const token = await sign({ scope: 'tasks:submit', sub: 'deep', exp: Math.floor(Date.now() / 1000) + 300 }, 'HS256', new TextEncoder().encode(secret))
    // JSON.parse takes it (its parser does not recurse); measuring the input for the budget does
    const deep = `${'['.repeat(30_000)}${']'.repeat(30_000)}`
    const post = async (path: string, body: string): Promise<{ status: number, json: Record<string, unknown> }> => {
      const res = await fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body })
      return { status: res.status, json: await res.json() as Record<string, unknown> }
    }
    expect(await post('/v1/tasks', `{"task":"noop","input":${deep}}`)).toMatchObject({ status: 400, json: { code: 'ERR_NOT_SERIALIZABLE', detail: expect.stringMatching(/input/) } })
    expect(await post('/v1/schedules', `{"id":"deep","everyMs":60000,"task":"noop","input":${deep}}`)).toMatchObject({ status: 400, json: { code: 'ERR_CONFIG', detail: expect.stringMatching(/schedule\.input/) } })
  })

  it('?wait=1 on a task that stays queued (no agent free: no timeout runs yet) answers 202 with the task as it stands after maxWaitMs, not never', async () => {
    const secret = 'w'.repeat(40)
    const { node } = stubNode()
    const server = await startApiServer(node, { port: 0, jwt: { secretFile: await file('s', secret) }, maxWaitMs: 300 })
    servers.push(server)
    const token = await sign({ scope: 'tasks:submit', sub: 'waiter', exp: Math.floor(Date.now() / 1000) + 300 }, 'HS256', new TextEncoder().encode(secret))
    const started = performance.now()
    const res = await fetch(`${server.url}/v1/tasks?wait=1`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"task":"noop"}', signal: AbortSignal.timeout(10_000) })
    expect(res.status).toBe(202)
    const body = await res.json() as { id: string }
    expect(body).toMatchObject({ status: 'queued' })
    // where to read it later, as a plain submit says
    expect(res.headers.get('location')).toBe(`/v1/tasks/${encodeURIComponent(body.id)}`)
    expect(performance.now() - started).toBeGreaterThanOrEqual(250)
  })

  it('refuses an address with 60 failed authentications in a minute before looking at its token (429)', async () => {
    const { node } = stubNode()
    const server = await startApiServer(node, { port: 0, jwt: { secretFile: await file('s', 'q'.repeat(40)) } })
    servers.push(server)
    const statuses: number[] = []
    for (let i = 0; i < 61; i++) {
      const res = await fetch(`${server.url}/v1/members`, { headers: { authorization: 'Bearer not.a.token' } })
      statuses.push(res.status)
      await res.arrayBuffer()
    }
    expect(statuses.slice(0, 60).every(s => s === 401)).toBe(true)
    expect(statuses[60]).toBe(429)
  })
})
