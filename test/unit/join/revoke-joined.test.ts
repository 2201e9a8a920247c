import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { pino } from 'pino'
import { issueCertificate } from '../../../src/certs/create.ts'
import { initCertsDir, readCaPair } from '../../../src/certs/files.ts'
import { revokeInDir } from '../../../src/certs/crl.ts'
import { IssuedLog, MAX_ISSUED } from '../../../src/certs/issued.ts'
import type { IssuedRecord } from '../../../src/certs/issued.ts'
import { JoinIssuer } from '../../../src/join/issuer.ts'
import { requestJoin } from '../../../src/join/joiner.ts'
import { tokenStoreOf } from '../../../src/join/files.ts'
import type { TokenStore } from '../../../src/join/token-store.ts'
import { certificateHash, formatToken, parseToken } from '../../../src/join/token.ts'
import { FailureLimiter } from '../../../src/join/rate-limit.ts'
import { normalizeSerial } from '../../../src/transport/mtls/verify.ts'
import { peerIdFromCertificate } from '../../../src/transport/identity.ts'
import { CertificateError } from '../../../src/errors.ts'

describe('a certificate issued through a join token can be revoked by the joined name', () => {
  let dir: string
  let store: TokenStore
  let issuer: JoinIssuer
  let port: number
  let caCert: string
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })

  beforeAll(async () => {
    // as `grid certs init` lays it out, and `grid node --ca-key certs/ca/ca.key` serves it
    dir = await mkdtemp(join(tmpdir(), 'gridd-revoke-joined-'))
    await initCertsDir(dir)
    const ca = await readCaPair(dir)
    caCert = ca.cert
    store = await tokenStoreOf(dir)
    issuer = new JoinIssuer({ ca, server: await issueCertificate(ca, { name: 'issuer', roles: ['member'] }), tokens: store, host: '127.0.0.1', port: 0, addresses: () => [], log, limiter: new FailureLimiter({ maxFailures: 100 }) })
    port = (await issuer.start()).port
  })

  afterAll(async () => {
    await issuer?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const join1 = async (name: string): Promise<X509Certificate> => {
    const record = await store.create({ roles: ['agent', 'member'], ttlMs: 60_000, uses: 1 })
    const token = parseToken(formatToken({ id: record.id, secret: record.secret, caHash: certificateHash(caCert) }))
    return new X509Certificate((await requestJoin({ token, host: '127.0.0.1', port, name })).tls.cert)
  }

  it('records the issuance (0600, beside the tokens), logs the serial, and `grid certs revoke <name>` finds it', async () => {
    const cert = await join1('worker-7')
    const serial = normalizeSerial(cert.serialNumber)
    const peerId = peerIdFromCertificate(cert)!.toString()
    const issued = new IssuedLog(join(dir, 'ca'))
    expect(await issued.list()).toEqual([expect.objectContaining({ serial, name: 'worker-7', peerId, notAfter: Date.parse(cert.validTo) })])
    expect((await stat(issued.path)).mode & 0o777).toBe(0o600)
    expect(lines.find(l => l.msg === 'issued a certificate to a joining node')).toMatchObject({ name: 'worker-7', serial, peerId })
    const revoked = await revokeInDir(dir, 'worker-7')
    expect(revoked).toMatchObject({ serial, name: 'worker-7', peerId, added: true })
    expect(revoked.crl.entries.map(e => e.serial)).toContain(serial)
  })

  it('by peer id too; a name issued twice and still valid twice is refused, naming both serials', async () => {
    const first = await join1('twice')
    const second = await join1('twice')
    const err = await revokeInDir(dir, 'twice').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CertificateError)
    for (const cert of [first, second]) expect((err as Error).message).toContain(normalizeSerial(cert.serialNumber))
    const byPeer = await revokeInDir(dir, peerIdFromCertificate(second)!.toString())
    expect(byPeer).toMatchObject({ serial: normalizeSerial(second.serialNumber), name: 'twice', added: true })
  })

  it('a name both a file in the directory and a joined node\'s (a joiner picks its own --name) is refused, listing both serials; nothing is revoked', async () => {
    // the issuer's own node.crt (grid certs init), and a node that joined as "node"
    const own = normalizeSerial(new X509Certificate(await readFile(join(dir, 'node.crt'))).serialNumber)
    const joined = 'abc123def4567890'
    await new IssuedLog(join(dir, 'ca')).add({ name: 'node', serial: joined, peerId: 'p-joined', token: 't', issuedAt: Date.now(), notAfter: Date.now() + 3_600_000 })
    const before = await readFile(join(dir, 'crl.pem'), 'utf8').catch(() => undefined)
    const err = await revokeInDir(dir, 'node').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as Error).message).toMatch(/revoke the one meant by its serial/)
    for (const serial of [own, joined]) expect((err as Error).message).toContain(serial)
    expect(await readFile(join(dir, 'crl.pem'), 'utf8').catch(() => undefined)).toBe(before)
    // by serial, each is revoked as asked
    expect(await revokeInDir(dir, joined)).toMatchObject({ serial: joined, added: true })
  })

  it('a certificate that cannot be recorded is not sent, and the token use is given back: a retry once the record is fixed joins', async () => {
    const issued = new IssuedLog(join(dir, 'ca'))
    const before = await readFile(issued.path, 'utf8').catch(() => JSON.stringify({ v: 1, issued: [] }))
    const record = await store.create({ roles: ['agent', 'member'], ttlMs: 60_000, uses: 1 })
    const token = parseToken(formatToken({ id: record.id, secret: record.secret, caHash: certificateHash(caCert) }))
    // an issued.json the schema refuses: IssuedLog.add throws
    await writeFile(issued.path, JSON.stringify({ v: 2, issued: [] }))
    await expect(requestJoin({ token, host: '127.0.0.1', port, name: 'unrecorded' })).rejects.toThrow(/the issuer failed; try again later/)
    expect((await store.list()).find(t => t.id === token.id)?.used).toBe(0)
    await writeFile(issued.path, before)
    const cert = new X509Certificate((await requestJoin({ token, host: '127.0.0.1', port, name: 'unrecorded' })).tls.cert)
    expect((await store.list()).find(t => t.id === token.id)?.used).toBe(1)
    expect((await issued.list()).map(i => i.serial)).toContain(normalizeSerial(cert.serialNumber))
  })

  it('keeps the last MAX_ISSUED records', async () => {
    const record = new IssuedLog(await mkdtemp(join(tmpdir(), 'gridd-issued-')))
    try {
      const row = (i: number): IssuedRecord => ({ serial: i.toString(16), name: `n${i}`, peerId: 'p', token: 't', issuedAt: i, notAfter: Date.now() + 3_600_000 })
      // written as a full file, then one more through add
      await writeFile(record.path, JSON.stringify({ v: 1, issued: Array.from({ length: MAX_ISSUED }, (_, i) => row(i)) }))
      await record.add(row(MAX_ISSUED))
      const kept = await record.list()
      expect(kept.length).toBe(MAX_ISSUED)
      expect(kept[0]!.name).toBe('n1')
      expect(kept.at(-1)!.name).toBe(`n${MAX_ISSUED}`)
      expect(JSON.parse(await readFile(record.path, 'utf8')).v).toBe(1)
    } finally {
      await rm(join(record.path, '..'), { recursive: true, force: true })
    }
  })

  it('drops the records of expired certificates before any still valid', async () => {
    const record = new IssuedLog(await mkdtemp(join(tmpdir(), 'gridd-issued-')))
    try {
      const now = Date.now()
      // the oldest half still valid, the newer half expired (short-lived certificates issued later)
      const row = (i: number): IssuedRecord => ({ serial: i.toString(16), name: `n${i}`, peerId: 'p', token: 't', issuedAt: i, notAfter: i < MAX_ISSUED / 2 ? now + 3_600_000 : now - 1 })
      await writeFile(record.path, JSON.stringify({ v: 1, issued: Array.from({ length: MAX_ISSUED }, (_, i) => row(i)) }))
      await record.add({ ...row(MAX_ISSUED), notAfter: now + 3_600_000 }, now)
      const kept = await record.list()
      expect(kept.length).toBe(MAX_ISSUED / 2 + 1)
      expect(kept[0]!.name).toBe('n0')
      expect(kept.every(r => r.notAfter > now)).toBe(true)
    } finally {
      await rm(join(record.path, '..'), { recursive: true, force: true })
    }
  })
})
