import { describe, it, expect, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairSync } from 'node:crypto'
import { SignJWT, exportJWK } from 'jose'
import { startApiServer } from '../../../src/api/server.ts'
import type { ApiServer } from '../../../src/api/server.ts'
import { jwtVerifier } from '../../../src/api/auth/jwt.ts'
import { ConfigError, ERR_UNAUTHORIZED } from '../../../src/errors.ts'
import { stubNode } from './stub-node.ts'

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

  it('without a verifier every scoped route answers 401; an unknown route a 404 problem', async () => {
    const { node } = stubNode()
    const server = await startApiServer(node, { port: 0 })
    servers.push(server)
    const res = await fetch(`${server.url}/v1/sessions`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect(await (await fetch(`${server.url}/nowhere`)).json()).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' })
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
