import { describe, it, expect, beforeAll } from 'vitest'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { createCa, issueCertificate, checkName } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { CertificateError, ConfigError } from '../../../src/errors.ts'
import { caWithDates } from './ca-dates.ts'

const DAY_MS = 24 * 60 * 60 * 1000
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

function expectConfigError (fn: () => unknown, option: string): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  expect(caught).toBeInstanceOf(ConfigError)
  expect((caught as ConfigError).code).toBe('ERR_CONFIG')
  expect((caught as ConfigError).option).toBe(option)
}

async function expectConfigErrorAsync (p: Promise<unknown>, option: string): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(ConfigError)
  expect((err as ConfigError).code).toBe('ERR_CONFIG')
  expect((err as ConfigError).option).toBe(option)
}

describe('createCa', () => {
  let ca: CertKeyPair
  let x: X509Certificate
  beforeAll(async () => {
    ca = await createCa({ commonName: 'test CA', validityDays: 30 })
    x = new X509Certificate(ca.cert)
  })

  it('is a self-signed CA with an Ed25519 key', () => {
    expect(x.ca).toBe(true)
    expect(x.publicKey.asymmetricKeyType).toBe('ed25519')
    expect(x.subject).toContain('CN=test CA')
    expect(x.checkIssued(x)).toBe(true)
    expect(x.verify(x.publicKey)).toBe(true)
  })

  it('private key matches the certificate', () => {
    const key = createPrivateKey(ca.key)
    expect(key.asymmetricKeyType).toBe('ed25519')
    expect(x.checkPrivateKey(key)).toBe(true)
  })

  it('respects validityDays (approximately)', () => {
    const span = x.validToDate.getTime() - Date.now()
    expect(span).toBeGreaterThan(30 * DAY_MS - 60_000)
    expect(span).toBeLessThanOrEqual(30 * DAY_MS)
    expect(x.validFromDate.getTime()).toBeLessThanOrEqual(Date.now())
  })

  it('uses a fresh key and serial each time', async () => {
    const other = new X509Certificate((await createCa()).cert)
    expect(other.serialNumber).not.toBe(x.serialNumber)
    expect(other.publicKey.equals(x.publicKey)).toBe(false)
  })

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects validityDays %s', async (days) => {
    await expectConfigErrorAsync(createCa({ validityDays: days }), 'validityDays')
  })
})

describe('issueCertificate', () => {
  let ca: CertKeyPair
  let caX: X509Certificate
  let leaf: CertKeyPair
  let x: X509Certificate
  beforeAll(async () => {
    ca = await createCa()
    caX = new X509Certificate(ca.cert)
    leaf = await issueCertificate(ca, { name: 'node-1', validityDays: 10 })
    x = new X509Certificate(leaf.cert)
  })

  it('is signed by the CA', () => {
    expect(x.checkIssued(caX)).toBe(true)
    expect(x.verify(caX.publicKey)).toBe(true)
    expect(x.issuer).toBe(caX.subject)
  })

  it('is a leaf, not a CA', () => {
    expect(x.ca).toBe(false)
  })

  it('is not signed by another CA', async () => {
    const otherCa = new X509Certificate((await createCa()).cert)
    expect(x.verify(otherCa.publicKey)).toBe(false)
  })

  it('names the subject in CN and DNS SAN', () => {
    expect(x.subject).toContain('CN=node-1')
    expect(x.subjectAltName?.split(', ')).toContain('DNS:node-1')
    expect(x.checkHost('node-1')).toBe('node-1')
  })

  it('has an Ed25519 key matching its private key', () => {
    expect(x.publicKey.asymmetricKeyType).toBe('ed25519')
    const key = createPrivateKey(leaf.key)
    expect(x.checkPrivateKey(key)).toBe(true)
    expect(x.checkPrivateKey(createPrivateKey(ca.key))).toBe(false)
  })

  it('allows both serverAuth and clientAuth', () => {
    expect(x.keyUsage).toEqual(expect.arrayContaining([SERVER_AUTH, CLIENT_AUTH]))
  })

  it('respects validityDays (approximately)', () => {
    const span = x.validToDate.getTime() - Date.now()
    expect(span).toBeGreaterThan(10 * DAY_MS - 60_000)
    expect(span).toBeLessThanOrEqual(10 * DAY_MS)
    expect(x.validFromDate.getTime()).toBeLessThanOrEqual(Date.now())
  })

  it('honours notBefore/notAfter overrides', async () => {
    const notBefore = new Date(Date.UTC(2020, 0, 1))
    const notAfter = new Date(Date.UTC(2021, 0, 1))
    const c = new X509Certificate((await issueCertificate(ca, { name: 'old', notBefore, notAfter })).cert)
    expect(c.validFromDate.getTime()).toBe(notBefore.getTime())
    expect(c.validToDate.getTime()).toBe(notAfter.getTime())
  })

  it('never ends after the CA: validityDays and notAfter beyond it are cut to the CA\'s notAfter', async () => {
    const shortCa = await createCa({ validityDays: 5 })
    const caEnd = new X509Certificate(shortCa.cert).validToDate.getTime()
    const byDays = new X509Certificate((await issueCertificate(shortCa, { name: 'long', validityDays: 825 })).cert)
    const byDate = new X509Certificate((await issueCertificate(shortCa, { name: 'long', notAfter: new Date(Date.now() + 100 * DAY_MS) })).cert)
    expect(byDays.validToDate.getTime()).toBeLessThanOrEqual(caEnd)
    expect(byDate.validToDate.getTime()).toBeLessThanOrEqual(caEnd)
    expect(byDays.validToDate.getTime()).toBeGreaterThan(caEnd - 60_000)
  })

  it('refuses to sign with a CA that has expired', async () => {
    const now = Date.now()
    const expiredCa = await caWithDates(ca, new Date(now - 10 * DAY_MS), new Date(now - DAY_MS))
    await expect(issueCertificate(expiredCa, { name: 'late' })).rejects.toThrow(CertificateError)
    await expect(issueCertificate(expiredCa, { name: 'late' })).rejects.toThrow(/CA certificate .* expired on/)
  })

  it.each([0, -5])('rejects validityDays %s', async (days) => {
    await expectConfigErrorAsync(issueCertificate(ca, { name: 'x', validityDays: days }), 'validityDays')
  })

  it.each(['', '../x', 'a b', 'a'.repeat(64), '-lead', 'a/b'])('rejects name %j', async (name) => {
    await expectConfigErrorAsync(issueCertificate(ca, { name }), 'name')
  })
})

describe('checkName', () => {
  it.each(['a', 'node-1', 'n.o_d-e', 'A9', 'a'.repeat(63)])('accepts %j', (name) => {
    expect(checkName(name)).toBe(name)
  })

  it.each(['', '../x', 'a b', 'a'.repeat(64), '.hidden', '_x', 'x\n', 'é'])('rejects %j', (name) => {
    expectConfigError(() => checkName(name), 'name')
  })
})
