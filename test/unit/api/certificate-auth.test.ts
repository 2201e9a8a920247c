import { describe, it, expect } from 'vitest'
import { X509Certificate } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import { certificatePrincipal } from '../../../src/api/auth/certificate.ts'
import { UnauthorizedError } from '../../../src/errors.ts'

const DAY_MS = 86_400_000

/** A request over HTTPS whose TLS handshake saw `cert` (authorized or not, as Node's server reports it). */
function requestWith (cert: string | undefined, authorized: boolean, authorizationError?: string): FastifyRequest {
  const socket = { authorized, authorizationError, getPeerX509Certificate: () => cert == null ? undefined : new X509Certificate(cert) }
  return { raw: { socket } } as unknown as FastifyRequest
}

describe('HTTPS client certificates as API credentials', () => {
  it('a verified certificate of the grid: its roles\' scopes; no certificate: no principal (a bearer token may still speak)', async () => {
    const ca = await createCa()
    const client = await issueCertificate(ca, { name: 'c1', roles: ['client'] })
    expect(certificatePrincipal(requestWith(client.cert, true), () => false)).toMatchObject({ subject: 'cert:c1' })
    expect(certificatePrincipal(requestWith(undefined, false, 'UNABLE_TO_GET_ISSUER_CERT'), () => false)).toBeUndefined()
  })

  it('an expired one is refused saying so, not with "a bearer token is required" or "no token verifier configured"', async () => {
    const ca = await createCa()
    const expired = await issueCertificate(ca, { name: 'c1', roles: ['client'], notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) })
    const refused = (): unknown => certificatePrincipal(requestWith(expired.cert, false, 'CERT_HAS_EXPIRED'), () => false)
    expect(refused).toThrow(UnauthorizedError)
    expect(refused).toThrow(/client certificate \(c1, valid .*\) is no credential: it has expired/)
  })
})
