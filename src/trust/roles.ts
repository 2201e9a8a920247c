import type { X509Certificate } from 'node:crypto'
import { ConfigError } from '../errors.ts'

/**
 * What a certificate lets its holder do (DESIGN §11): `agent` hosts workers;
 * `member` joins membership, owns pipelines, ships code, writes channels;
 * `client` reads status and channels; `admin` changes any node's placement,
 * kills any worker, revokes. A certificate may hold several.
 */
export const ROLES = ['agent', 'member', 'client', 'admin'] as const
export type Role = typeof ROLES[number]

/**
 * Roles travel as SAN URIs (`urn:gridd:role:agent`), as Kubernetes and SPIFFE put
 * identity in the SAN: standard X.509, signed by the CA with the rest of the
 * certificate, readable by `openssl x509 -text` and by Node without ASN.1 code.
 */
export const ROLE_URN_PREFIX = 'urn:gridd:role:'

export function roleUri (role: Role): string {
  return `${ROLE_URN_PREFIX}${role}`
}

export function isRole (value: string): value is Role {
  return (ROLES as readonly string[]).includes(value)
}

/** The roles a (CA-verified) certificate grants; unknown role URIs are ignored. */
export function rolesOfCertificate (cert: X509Certificate): Set<Role> {
  const roles = new Set<Role>()
  // Node renders the SAN as "DNS:node, URI:urn:gridd:role:agent, ..."; values with
  // separators in them are quoted, so a role URI is always a whole entry
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (!entry.startsWith(`URI:${ROLE_URN_PREFIX}`)) continue
    const role = entry.slice(4 + ROLE_URN_PREFIX.length)
    if (isRole(role)) roles.add(role)
  }
  return roles
}

/** `agent,member` (the CLI's `--role`) as a checked, de-duplicated role list. */
export function parseRoles (text: string): Role[] {
  const roles = text.split(',').map(r => r.trim()).filter(r => r !== '')
  if (roles.length === 0) throw new ConfigError('role', `needs at least one of ${ROLES.join(', ')}`)
  for (const role of roles) {
    if (!isRole(role)) throw new ConfigError('role', `"${role}" is not a role; roles are ${ROLES.join(', ')}`)
  }
  return [...new Set(roles as Role[])]
}

export function describeRoles (roles: Iterable<Role>): string {
  const list = [...roles]
  return list.length === 0 ? '(no role)' : list.join(',')
}
