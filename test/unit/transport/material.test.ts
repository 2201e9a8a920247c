import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { initCertsDir } from '../../../src/certs/files.ts'
import { checkMaterial, loadCerts, readPemOrPath } from '../../../src/transport/mtls/material.ts'
import type { TlsMaterial } from '../../../src/transport/mtls/material.ts'
import { CertificateError } from '../../../src/errors.ts'
import { caWithDates } from '../certs/ca-dates.ts'

const DAY_MS = 86_400_000
let ca: CertKeyPair
let node: CertKeyPair
let other: CertKeyPair
let foreign: CertKeyPair
let expired: CertKeyPair
let future: CertKeyPair
let expiredCa: CertKeyPair
let futureCa: CertKeyPair
let dir: string

beforeAll(async () => {
  ca = await createCa()
  node = await issueCertificate(ca, { name: 'node' })
  other = await issueCertificate(ca, { name: 'other' })
  foreign = await issueCertificate(await createCa(), { name: 'node' })
  const now = Date.now()
  expired = await issueCertificate(ca, { name: 'old', notBefore: new Date(now - 10 * DAY_MS), notAfter: new Date(now - DAY_MS) })
  future = await issueCertificate(ca, { name: 'new', notBefore: new Date(now + DAY_MS), notAfter: new Date(now + 10 * DAY_MS) })
  expiredCa = await caWithDates(ca, new Date(now - 10 * DAY_MS), new Date(now - DAY_MS))
  futureCa = await caWithDates(ca, new Date(now + DAY_MS), new Date(now + 10 * DAY_MS))
  dir = await mkdtemp(join(tmpdir(), 'gridd-material-'))
  await initCertsDir(dir)
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

function good (): TlsMaterial { return { ca: ca.cert, cert: node.cert, key: node.key } }

function certificateError (fn: () => unknown): CertificateError {
  try { fn() } catch (err) {
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as CertificateError).code).toBe('ERR_CERTIFICATE')
    return err as CertificateError
  }
  throw new Error('expected a CertificateError')
}

describe('checkMaterial', () => {
  it('accepts a good CA, certificate and key', () => {
    expect(() => { checkMaterial(good()) }).not.toThrow()
  })

  it('accepts an outbound pair that is the same identity', () => {
    expect(() => { checkMaterial({ ...good(), outbound: { cert: node.cert, key: node.key } }) }).not.toThrow()
  })

  const cases: Array<[string, () => TlsMaterial, string]> = [
    ['a key that does not match', () => ({ ...good(), key: other.key }), 'does not match its key'],
    ['a certificate from another CA', () => ({ ...good(), cert: foreign.cert, key: foreign.key }), 'is not signed by the grid CA'],
    ['an expired certificate', () => ({ ...good(), cert: expired.cert, key: expired.key }), 'expired on'],
    ['a not-yet-valid certificate', () => ({ ...good(), cert: future.cert, key: future.key }), 'is not valid before'],
    ['an expired CA (the certificate itself still in its dates)', () => ({ ...good(), ca: expiredCa.cert }), 'CA certificate (CN=gridd CA) expired on'],
    ['a not-yet-valid CA', () => ({ ...good(), ca: futureCa.cert }), 'CA certificate (CN=gridd CA) is not valid before'],
    ['a leaf as the CA', () => ({ ...good(), ca: other.cert }), 'is not a CA'],
    ['an outbound pair with a different key', () => ({ ...good(), outbound: { cert: other.cert, key: other.key } }), 'same key'],
    ['an outbound certificate not matching its key', () => ({ ...good(), outbound: { cert: other.cert, key: node.key } }), 'outbound certificate (CN=other) does not match'],
    ['an outbound certificate from another CA', () => ({ ...good(), outbound: foreign }), 'outbound certificate (CN=node) is not signed'],
    ['a CA that is not PEM', () => ({ ...good(), ca: 'garbage' }), 'CA certificate is not a PEM certificate'],
    ['a certificate that is not PEM', () => ({ ...good(), cert: node.key }), 'certificate is not a PEM certificate'],
    ['a key that is not PEM', () => ({ ...good(), key: 'nope' }), 'not a PEM private key']
  ]
  it.each(cases)('rejects %s', (_label, make, message) => {
    expect(certificateError(() => { checkMaterial(make()) }).message).toContain(message)
  })
})

describe('loadCerts', () => {
  it('reads ca.crt, NAME.crt and NAME.key', async () => {
    for (const name of ['node', 'client']) {
      const tls = await loadCerts(dir, name)
      expect(tls.ca).toBe(await readFile(join(dir, 'ca.crt'), 'utf8'))
      expect(tls.cert).toBe(await readFile(join(dir, `${name}.crt`), 'utf8'))
      expect(tls.key).toBe(await readFile(join(dir, `${name}.key`), 'utf8'))
      expect(() => { checkMaterial(tls) }).not.toThrow()
    }
  })

  it('defaults to the name "node"', async () => {
    expect(await loadCerts(dir)).toEqual(await loadCerts(dir, 'node'))
  })

  it.each([
    ['a missing name', 'ghost', 'ghost.crt'],
    ['a missing CA', 'node', 'ca.crt']
  ])('throws CertificateError naming the path for %s', async (_label, name, file) => {
    const from = file === 'ca.crt' ? await mkdtemp(join(dir, 'noca-')) : dir
    const err = await loadCerts(from, name).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as Error).message).toContain(join(from, file))
  })
})

describe('readPemOrPath', () => {
  it('returns PEM text as it is', async () => {
    expect(await readPemOrPath(node.cert, 'certificate')).toBe(node.cert)
  })

  it('reads a path otherwise', async () => {
    const path = join(dir, 'copy.pem')
    await writeFile(path, node.key)
    expect(await readPemOrPath(path, 'key')).toBe(node.key)
  })

  it('names the missing path', async () => {
    const path = join(dir, 'missing.pem')
    const err = await readPemOrPath(path, 'key').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as Error).message).toContain(path)
  })
})
