import { describe, it, expect, beforeAll } from 'vitest'
import { X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { REFUSAL, verifyRemote } from '../../../src/transport/mtls/verify.ts'
import { TlsRefusedError } from '../../../src/errors.ts'
import { caWithDates } from '../certs/ca-dates.ts'

const DAY_MS = 86_400_000
let ca: CertKeyPair
let node: CertKeyPair

beforeAll(async () => {
  ca = await createCa()
  node = await issueCertificate(ca, { name: 'node', roles: ['member'] })
})

/** The remote side of a finished handshake, as verifyRemote reads it. */
function presenting (pem: string): TLSSocket {
  const cert = new X509Certificate(pem)
  return {
    getPeerCertificate: () => ({ raw: cert.raw, subject: { CN: 'node' }, issuer: { CN: 'gridd CA' }, ext_key_usage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'] })
  } as unknown as TLSSocket
}

function refusal (fn: () => unknown): TlsRefusedError {
  try { fn() } catch (err) {
    expect(err).toBeInstanceOf(TlsRefusedError)
    return err as TlsRefusedError
  }
  throw new Error('expected a TlsRefusedError')
}

describe('verifyRemote', () => {
  it('accepts a certificate of the grid CA within its dates', () => {
    const { credential } = verifyRemote(presenting(node.cert), new X509Certificate(ca.cert), true)
    expect(credential.roles).toEqual(new Set(['member']))
    expect(credential.notAfter).toBe(Date.parse(new X509Certificate(node.cert).validTo))
  })

  it('refuses every certificate once the grid CA has expired, or before it starts, though the certificates are within their own dates', async () => {
    const now = Date.now()
    const expiredCa = new X509Certificate((await caWithDates(ca, new Date(now - 10 * DAY_MS), new Date(now - DAY_MS))).cert)
    const futureCa = new X509Certificate((await caWithDates(ca, new Date(now + DAY_MS), new Date(now + 10 * DAY_MS))).cert)
    const expired = refusal(() => verifyRemote(presenting(node.cert), expiredCa, true))
    expect(expired.message).toMatch(/grid CA certificate .* expired on/)
    expect(expired.reason).toBe(REFUSAL.expired)
    const future = refusal(() => verifyRemote(presenting(node.cert), futureCa, false))
    expect(future.message).toMatch(/grid CA certificate .* is not valid before/)
    expect(future.reason).toBe(REFUSAL.notYetValid)
  })

  it('an open connection ends when the CA expires, if that comes before the certificate does', async () => {
    const now = Date.now()
    const caNotAfter = new Date(now + DAY_MS)
    const shortCa = new X509Certificate((await caWithDates(ca, new Date(now - DAY_MS), caNotAfter)).cert)
    const { credential } = verifyRemote(presenting(node.cert), shortCa, true)
    expect(credential.notAfter).toBe(Math.floor(caNotAfter.getTime() / 1000) * 1000)
  })
})
