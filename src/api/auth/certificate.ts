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
  if (socket.authorized !== true || typeof socket.getPeerX509Certificate !== 'function') return undefined
  const cert = socket.getPeerX509Certificate()
  if (cert == null) return undefined
  // the node's newest CRL binds its HTTPS clients as it binds its libp2p peers
  if (revoked(normalizeSerial(cert.serialNumber))) throw new UnauthorizedError(`this client certificate (serial ${normalizeSerial(cert.serialNumber)}) is revoked`)
  const scopes = new Set<Scope>()
  for (const role of rolesOfCertificate(cert)) for (const scope of ROLE_SCOPES[role]) scopes.add(scope)
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? cert.serialNumber
  return { subject: `cert:${cn}`, scopes }
}
