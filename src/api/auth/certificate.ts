import type { X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'
import { rolesOfCertificate } from '../../trust/roles.ts'
import type { Role } from '../../trust/roles.ts'
import type { Principal, Scope } from './scopes.ts'
import { normalizeSerial } from '../../transport/mtls/verify.ts'
import { UnauthorizedError } from '../../errors.ts'

/** What each role of a client certificate lets it do over HTTPS: the inverse of SCOPE_ROLES. */
const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  client: ['tasks:read', 'tasks:submit', 'tasks:cancel'],
  member: ['tasks:read', 'tasks:submit', 'tasks:cancel', 'tasks:module'],
  admin: ['admin'],
  agent: []
}

/**
 * The caller of an HTTPS request that presented a client certificate the TLS
 * handshake verified against the grid CA (chain and validity dates): subject
 * `cert:<CN>`, scopes from the roles the certificate holds. None otherwise.
 */
export function certificatePrincipal (request: FastifyRequest, revoked: (serial: string) => boolean): Principal | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>
  if (typeof socket.getPeerX509Certificate !== 'function') return undefined
  if (socket.authorized !== true) {
    // one the handshake refused (expired, another CA's): say why, or the 401 would only ask for a bearer token
    const presented = socket.getPeerX509Certificate()
    const why = HANDSHAKE_REFUSALS[String(socket.authorizationError)] ?? `refused by the TLS handshake (${String(socket.authorizationError)})`
    if (presented != null && socket.authorizationError != null) throw new UnauthorizedError(`this client certificate (${commonName(presented)}, valid ${presented.validFrom} to ${presented.validTo}) is no credential: ${why}`)
    return undefined
  }
  const cert = socket.getPeerX509Certificate()
  if (cert == null) return undefined
  // the node's newest CRL binds its HTTPS clients as it binds its libp2p peers
  if (revoked(normalizeSerial(cert.serialNumber))) throw new UnauthorizedError(`this client certificate (serial ${normalizeSerial(cert.serialNumber)}) is revoked`)
  const scopes = new Set<Scope>()
  for (const role of rolesOfCertificate(cert)) for (const scope of ROLE_SCOPES[role]) scopes.add(scope)
  return { subject: `cert:${commonName(cert)}`, scopes }
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
