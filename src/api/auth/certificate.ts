import type { X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'
import { rolesOfCertificate } from '../../trust/roles.ts'
import type { Role } from '../../trust/roles.ts'
import type { CertificateCredential, CredentialRefusal, Principal, Scope } from './scopes.ts'
import { normalizeSerial } from '../../transport/mtls/verify.ts'
import { UnauthorizedError } from '../../errors.ts'

/** What each role of a client certificate lets it do over HTTPS: the inverse of SCOPE_ROLES. */
const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  client: ['tasks:read', 'tasks:submit', 'tasks:cancel'],
  member: ['tasks:read', 'tasks:submit', 'tasks:cancel', 'tasks:module'],
  admin: ['admin'],
  agent: []
}

/** What each TLS connection's verified client certificate makes of its caller: read at its first request, reused by the next ones. */
const byConnection = new WeakMap<object, Principal>()

/**
 * The caller of an HTTPS request that presented a client certificate the TLS
 * handshake verified against the grid CA (chain and validity dates): subject
 * `cert:<CN>`, scopes from the roles the certificate holds. None otherwise.
 * The handshake judged the certificate once, for the whole connection: every
 * request on it (keep-alive, a WebSocket's upgrade) is judged again against
 * the node's CRL now and the certificate's notAfter (401 once revoked or expired).
 */
export function certificatePrincipal (request: FastifyRequest, revoked: (serial: string) => boolean, now = Date.now()): Principal | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>
  if (typeof socket.getPeerX509Certificate !== 'function') return undefined
  if (socket.authorized !== true) {
    // one the handshake refused (expired, another CA's): say why, or the 401 would only ask for a bearer token
    const presented = socket.getPeerX509Certificate()
    const why = HANDSHAKE_REFUSALS[String(socket.authorizationError)] ?? `refused by the TLS handshake (${String(socket.authorizationError)})`
    if (presented != null && socket.authorizationError != null) throw new UnauthorizedError(`this client certificate (${commonName(presented)}, valid ${presented.validFrom} to ${presented.validTo}) is no credential: ${why}`)
    return undefined
  }
  let principal = byConnection.get(socket)
  if (principal == null) {
    const cert = socket.getPeerX509Certificate()
    if (cert == null) return undefined
    principal = principalOf(cert)
    byConnection.set(socket, principal)
  }
  const refusal = certificateRefusal(principal.certificate!, revoked, now)
  if (refusal != null) throw new UnauthorizedError(refusal.detail)
  return principal
}

/** Whether a certificate the handshake verified is still a credential: not listed by the node's newest CRL (`revoked`), not expired since. */
export function certificateRefusal (certificate: CertificateCredential, revoked: (serial: string) => boolean, now = Date.now()): CredentialRefusal | undefined {
  // the node's newest CRL binds its HTTPS clients as it binds its libp2p peers
  if (revoked(certificate.serial)) return { credential: 'client certificate', reason: 'revoked', detail: `this client certificate (serial ${certificate.serial}) is revoked` }
  if (now > certificate.notAfter) return { credential: 'client certificate', reason: 'expired', detail: `this client certificate (${certificate.name}, valid to ${new Date(certificate.notAfter).toISOString()}) is no credential: it has expired` }
  return undefined
}

function principalOf (cert: X509Certificate): Principal {
  const scopes = new Set<Scope>()
  for (const role of rolesOfCertificate(cert)) for (const scope of ROLE_SCOPES[role]) scopes.add(scope)
  const name = commonName(cert)
  return { subject: `cert:${name}`, scopes, certificate: { serial: normalizeSerial(cert.serialNumber), name, notAfter: Date.parse(cert.validTo) } }
}

/** OpenSSL's verify codes a client certificate of the wrong grid or dates most often gets. */
const HANDSHAKE_REFUSALS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet (is a clock wrong?)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is not signed by the grid CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is not signed by the grid CA'
}

function commonName (cert: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? cert.serialNumber
}
