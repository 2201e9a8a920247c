import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { IssuedLog } from '../../../src/certs/issued.ts'
import { JoinIssuer } from '../../../src/join/issuer.ts'
import { requestJoin } from '../../../src/join/joiner.ts'
import { TokenStore } from '../../../src/join/token-store.ts'
import { certificateHash, formatToken, parseToken } from '../../../src/join/token.ts'
import { FailureLimiter } from '../../../src/join/rate-limit.ts'

/**
 * A `--uses 1` token spent by two joiners at once: exactly one certificate. The use is counted
 * (TokenStore.consume) under the tokens file's lock, before anything is signed, so neither a slow
 * signing nor a second issuing process on the same CA directory can let both through.
 */
describe('a single-use join token redeemed twice at once', () => {
  let dir: string
  let ca: CertKeyPair
  const issuers: JoinIssuer[] = []
  const ports: number[] = []
  const log = pino({ level: 'silent' })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-join-race-'))
    ca = await createCa()
    const server = await issueCertificate(ca, { name: 'issuer', roles: ['member'] })
    // two issuing nodes pointed at one CA directory: each has its own store (its own in-process queue), only the lock file is shared
    for (let i = 0; i < 2; i++) {
      const issuer = new JoinIssuer({ ca, server, tokens: new TokenStore(dir), host: '127.0.0.1', port: 0, addresses: () => [], log, limiter: new FailureLimiter({ maxFailures: 1000, windowMs: 60_000 }) })
      issuers.push(issuer)
      ports.push((await issuer.start()).port)
    }
  })

  afterAll(async () => {
    for (const issuer of issuers) await issuer.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('through two issuers sharing the CA directory: one certificate, the other joiner refused as spent, one record', async () => {
    for (let round = 0; round < 5; round++) {
      const record = await new TokenStore(dir).create({ roles: ['agent'], ttlMs: 60_000, uses: 1 })
      const token = parseToken(formatToken({ id: record.id, secret: record.secret, caHash: certificateHash(ca.cert) }))
      const results = await Promise.allSettled(ports.map(async (port, i) => await requestJoin({ token, host: '127.0.0.1', port, name: `joiner-${round}-${i}` })))
      expect(results.filter(r => r.status === 'fulfilled').length, `round ${round}`).toBe(1)
      const refused = results.find(r => r.status === 'rejected')
      expect(String(refused?.reason)).toMatch(/spent/)
      expect((await new TokenStore(dir).list()).find(t => t.id === record.id)?.used).toBe(1)
      expect((await new IssuedLog(dir).list()).filter(r => r.token === record.id).length).toBe(1)
    }
  })

  it('across processes: of four processes consuming the token at one moment, exactly one gets it', async () => {
    const record = await new TokenStore(dir).create({ roles: ['agent'], ttlMs: 60_000, uses: 1 })
    const storeModule = new URL('../../../src/join/token-store.ts', import.meta.url).pathname
    const startAt = Date.now() + 1500
    // each sleeps until the same wall-clock moment (no busy loop), so the four reach the lock together
    const script = `const { TokenStore } = await import(${JSON.stringify(storeModule)})
      const store = new TokenStore(${JSON.stringify(dir)})
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ${startAt} - Date.now()))
      const result = await store.consume(${JSON.stringify(record.id)}, () => undefined)
      process.stdout.write(JSON.stringify('refused' in result ? result : { used: result.used }))`
    const outputs = await Promise.all(Array.from({ length: 4 }, async () => await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (err, stdout) => { if (err != null) reject(err); else resolve(stdout) })
    })))
    const results = outputs.map(out => JSON.parse(out) as { used?: number, refused?: string })
    expect(results.filter(r => r.used === 1).length).toBe(1)
    expect(results.filter(r => r.refused === 'spent').length).toBe(3)
    expect((await new TokenStore(dir).list()).find(t => t.id === record.id)?.used).toBe(1)
  })
})
