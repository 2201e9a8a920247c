import type { Role } from '../../trust/roles.ts'

/**
 * What a bearer token may do (its `scope` claim, space-separated, or `scp`
 * array), each the HTTP face of a trust-model role (DESIGN §11):
 * - `tasks:read`   - client: read members, and the tasks and sessions this subject submitted, with their live output
 * - `tasks:submit` - client: run tasks registered by name, open sessions
 * - `tasks:cancel` - client: cancel the tasks and sessions this subject submitted
 * - `tasks:module` - member: submit a module path (choosing code to run is a member's power); read every task and session
 * - `admin`        - admin (and member): every scope, and read and cancel anyone's tasks and sessions
 */
export const SCOPES = ['tasks:read', 'tasks:submit', 'tasks:cancel', 'tasks:module', 'admin'] as const
export type Scope = typeof SCOPES[number]

export const SCOPE_ROLES: Record<Scope, readonly Role[]> = {
  'tasks:read': ['client'],
  'tasks:submit': ['client'],
  'tasks:cancel': ['client'],
  'tasks:module': ['member'],
  admin: ['admin', 'member']
}

/** Who made a request, as its verified token (or client certificate) says. */
export interface Principal {
  /** The token's `sub`: the rate limit's key and the owner of what it submits. */
  subject: string
  scopes: ReadonlySet<Scope>
  /** The client certificate it came with (HTTPS, no token): what stops being a credential when revoked or expired. */
  certificate?: CertificateCredential
  /** The bearer token it came with: what stops being a credential when it expires. */
  token?: TokenCredential
}

/** A client certificate a TLS handshake verified, as far as its later revocation and expiry go. */
export interface CertificateCredential {
  /** Its serial (normalized hex), as a CRL lists it. */
  serial: string
  /** Its subject CN. */
  name: string
  /** Its notAfter (ms since the epoch): valid through that second. */
  notAfter: number
}

/** A bearer token the verifier accepted, as far as its expiry goes. */
export interface TokenCredential {
  /** Its `exp` claim (seconds since the epoch). */
  exp: number
  /** The last millisecond the verifier accepts it (ms since the epoch): `exp` and the clock skew allowed past it. */
  validThrough: number
}

/** Why a principal's credential no longer is one: `credential` and `reason` short enough for a WebSocket's close frame. */
export interface CredentialRefusal {
  credential: 'client certificate' | 'token'
  reason: 'revoked' | 'expired'
  detail: string
}

/** `admin` holds every scope. */
export function hasScope (principal: Principal, scope: Scope): boolean {
  return principal.scopes.has(scope) || principal.scopes.has('admin')
}

/** The known scopes of a token's claims; unknown ones are ignored. */
export function scopesOfClaims (claims: Record<string, unknown>): Set<Scope> {
  const listed = typeof claims.scope === 'string' ? claims.scope.split(' ') : Array.isArray(claims.scp) ? claims.scp : []
  return new Set(listed.filter((s): s is Scope => typeof s === 'string' && (SCOPES as readonly string[]).includes(s)))
}
