import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { JoinIssuer } from '../../../src/join/issuer.ts'
import { requestJoin } from '../../../src/join/joiner.ts'
import { TokenStore } from '../../../src/join/token-store.ts'
import { certificateHash, parseToken, formatToken } from '../../../src/join/token.ts'
import type { JoinToken } from '../../../src/join/token.ts'
import { FailureLimiter } from '../../../src/join/rate-limit.ts'
import { rolesOfCertificate } from '../../../src/trust/roles.ts'
import { peerIdFromCertificate } from '../../../src/transport/identity.ts'
import { JoinError } from '../../../src/errors.ts'

describe('join with a token (issuer and joiner over real TLS on 127.0.0.1)', () => {
  let dir: string
  let ca: CertKeyPair
  let store: TokenStore
  let issuer: JoinIssuer
  let port: number
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-join-'))
    ca = await createCa()
    store = new TokenStore(dir)
    issuer = new JoinIssuer({ ca, server: await issueCertificate(ca, { name: 'issuer', roles: ['member'] }), tokens: store, host: '127.0.0.1', port: 0, addresses: () => ['/ip4/127.0.0.1/tcp/4100'], log, limiter: new FailureLimiter({ maxFailures: 4, windowMs: 60_000 }) })
    port = (await issuer.start()).port
  })

  afterAll(async () => {
    await issuer?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const tokenOf = async (init: { roles?: Array<'agent' | 'member'>, ttlMs?: number, uses?: number } = {}): Promise<JoinToken> => {
    const record = await store.create({ roles: init.roles ?? ['agent'], ttlMs: init.ttlMs ?? 3_600_000, uses: init.uses ?? 1 })
    return parseToken(formatToken({ id: record.id, secret: record.secret, caHash: certificateHash(ca.cert) }))
  }

  it('issues a certificate with the token\'s roles for the joiner\'s own key, and counts the use', async () => {
    const token = await tokenOf({ roles: ['agent', 'member'], uses: 2 })
    const joined = await requestJoin({ token, host: '127.0.0.1', port, name: 'worker-1' })
    const cert = new X509Certificate(joined.tls.cert)
    expect([...rolesOfCertificate(cert)].sort()).toEqual(['agent', 'member'])
    expect(cert.subject).toBe('CN=worker-1')
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true)
    expect(peerIdFromCertificate(cert)).toBeDefined()
    expect(joined.addresses).toEqual(['/ip4/127.0.0.1/tcp/4100'])
    expect((await store.list()).find(t => t.id === token.id)?.used).toBe(1)
    expect((await stat(store.path)).mode & 0o777).toBe(0o600)
  })

  it('refuses a spent, an expired and a revoked token', async () => {
    const once = await tokenOf({ uses: 1 })
    await requestJoin({ token: once, host: '127.0.0.1', port, name: 'a' })
    await expect(requestJoin({ token: once, host: '127.0.0.1', port, name: 'b' })).rejects.toThrow(/spent/)
    const expired = await tokenOf({ ttlMs: 1 })
    await new Promise(resolve => setTimeout(resolve, 5))
    await expect(requestJoin({ token: expired, host: '127.0.0.1', port, name: 'c' })).rejects.toThrow(/expired/)
    const revoked = await tokenOf({ uses: 5 })
    expect(await store.revoke(revoked.id)).toBe(true)
    await expect(requestJoin({ token: revoked, host: '127.0.0.1', port, name: 'd' })).rejects.toThrow(/revoked/)
    expect(lines.filter(l => l.msg === 'join refused').length).toBeGreaterThanOrEqual(3)
  })

  it('a --peer where nothing accepts joins (a member without --ca-key, or the wrong join port) says so, and stays retryable', async () => {
    const closed = createServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const free = (closed.address() as AddressInfo).port
    await new Promise(resolve => closed.close(resolve))
    const err = await requestJoin({ token: await tokenOf(), host: '127.0.0.1', port: free, name: 'f' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(JoinError)
    expect((err as JoinError).message).toMatch(new RegExp(`nothing accepts joins at 127\\.0\\.0\\.1:${free}.*--ca-key.*port \\+ 1`))
    expect((err as JoinError).retryable).toBe(true)
  })

  it('does not talk to a node whose CA does not match the token\'s hash', async () => {
    const token = await tokenOf()
    const other = { ...token, caHash: certificateHash((await createCa()).cert) }
    await expect(requestJoin({ token: other, host: '127.0.0.1', port, name: 'e' })).rejects.toThrow(/hash mismatch/)
    // nothing was asked of the issuer: the token is still unused
    expect((await store.list()).find(t => t.id === token.id)?.used).toBe(0)
  })

  it('refuses a wrong secret, and after repeated failures refuses the address outright', async () => {
    const token = await tokenOf({ uses: 10 })
    const forged = { ...token, secret: Buffer.alloc(32, 7).toString('base64url') }
    // spent, expired and revoked were three failures from 127.0.0.1 in this window: this fourth one blocks the address
    await expect(requestJoin({ token: forged, host: '127.0.0.1', port, name: 'f' })).rejects.toThrow(/bad token secret|too many failed/)
    await expect(requestJoin({ token, host: '127.0.0.1', port, name: 'g' })).rejects.toThrow(/too many failed join attempts/)
    expect(lines.some(l => l.msg === 'join refused: too many failed attempts, this address is refused for a while')).toBe(true)
    expect((await store.list()).find(t => t.id === token.id)?.used).toBe(0)
  })

  it('answers garbage and an oversized request with a refusal, and keeps serving', async () => {
    const { connect } = await import('node:tls')
    const exchange = async (payload: string): Promise<string> => await new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: freshPort, rejectUnauthorized: false }, () => { socket.write(payload) })
      let text = ''
      socket.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => { resolve(text) }).on('error', reject)
    })
    // the address is blocked by now (earlier tests): a fresh issuer with its own limiter
    const fresh = new JoinIssuer({ ca, server: await issueCertificate(ca, { name: 'issuer2', roles: ['member'] }), tokens: store, host: '127.0.0.1', port: 0, addresses: () => [], log, limiter: new FailureLimiter({ maxFailures: 100 }) })
    const freshPort = (await fresh.start()).port
    try {
      expect(JSON.parse(await exchange('not json\n'))).toMatchObject({ ok: false, error: 'join refused: unreadable request' })
      expect(JSON.parse(await exchange(`${'x'.repeat(20_000)}\n`))).toMatchObject({ ok: false })
      expect(JSON.parse(await exchange(`${JSON.stringify({ v: 1, token: '0123456789abcdef', csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----', mac: 'a'.repeat(43) })}\n`))).toMatchObject({ ok: false, error: expect.stringMatching(/bad CSR/) })
      const token = await tokenOf()
      expect((await requestJoin({ token, host: '127.0.0.1', port: freshPort, name: 'after-garbage' })).roles).toEqual(['agent'])
    } finally {
      await fresh.stop()
    }
  })

  it('a broken tokens file is the issuer\'s failure: logged as such, not counted against the joiner', async () => {
    const brokenDir = await mkdtemp(join(tmpdir(), 'gridd-join-broken-'))
    const limiter = new FailureLimiter({ maxFailures: 1 })
    const broken = new JoinIssuer({ ca, server: await issueCertificate(ca, { name: 'issuer3', roles: ['member'] }), tokens: new TokenStore(brokenDir), host: '127.0.0.1', port: 0, addresses: () => [], log, limiter })
    try {
      await writeFile(join(brokenDir, 'tokens.json'), '{ not json')
      const brokenPort = (await broken.start()).port
      await expect(requestJoin({ token: await tokenOf(), host: '127.0.0.1', port: brokenPort, name: 'h' })).rejects.toThrow(/the issuer failed; try again later/)
      expect(lines.some(l => l.msg === 'join failed on the issuer')).toBe(true)
      expect(limiter.blocked('127.0.0.1')).toBe(false)
    } finally {
      await broken.stop()
      await rm(brokenDir, { recursive: true, force: true })
    }
  })

  it('does not join through a node whose CA-signed certificate has expired, is not yet valid, or lacks the member role', async () => {
    const now = Date.now()
    const DAY_MS = 86_400_000
    const servers: Array<[string, CertKeyPair, RegExp]> = [
      ['expired', await issueCertificate(ca, { name: 'old-issuer', roles: ['member'], notBefore: new Date(now - 10 * DAY_MS), notAfter: new Date(now - DAY_MS) }), /outside its validity/],
      ['not yet valid', await issueCertificate(ca, { name: 'new-issuer', roles: ['member'], notBefore: new Date(now + DAY_MS), notAfter: new Date(now + 10 * DAY_MS) }), /outside its validity/],
      ['a client', await issueCertificate(ca, { name: 'client-issuer', roles: ['client'] }), /without the member role/]
    ]
    for (const [label, server, message] of servers) {
      const issuer = new JoinIssuer({ ca, server, tokens: store, host: '127.0.0.1', port: 0, addresses: () => [], log, limiter: new FailureLimiter({ maxFailures: 100 }) })
      const issuerPort = (await issuer.start()).port
      try {
        const token = await tokenOf()
        const joining = requestJoin({ token, host: '127.0.0.1', port: issuerPort, name: 'careful' })
        await expect(joining, label).rejects.toBeInstanceOf(JoinError)
        await expect(joining, label).rejects.toThrow(message)
        // refused before the request was sent: the token is still unused
        expect((await store.list()).find(t => t.id === token.id)?.used, label).toBe(0)
      } finally {
        await issuer.stop()
      }
    }
  })

  it('parses only well-formed tokens, and never echoes the text', () => {
    expect(() => parseToken('gridd1.abc.def.123')).toThrow(/not a join token/)
    expect(() => parseToken('hunter2')).not.toThrow(/hunter2/)
  })
})
