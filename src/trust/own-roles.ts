import { X509Certificate } from 'node:crypto'
import { rolesOfCertificate, describeRoles } from './roles.ts'
import type { Role } from './roles.ts'
import { CertificateError } from '../errors.ts'

/**
 * The roles of this node's own certificate, checked against what it is asked to
 * be: every node joins membership (member), and `--agent` hosts workers (agent).
 * Refused with how to issue the right certificate, before anything listens.
 * `what` names the certificate: a node with an outbound pair presents that one
 * when it dials, and its peers judge what it does on those connections by it.
 */
export function checkOwnRoles (certPem: string, options: { agent: boolean, what?: string }): Set<Role> {
  const what = options.what ?? 'this node\'s certificate'
  const cert = new X509Certificate(certPem)
  const roles = rolesOfCertificate(cert)
  const name = cert.subject.replace(/^CN=/, '')
  const needed: Role[] = options.agent ? ['member', 'agent'] : ['member']
  const missing = needed.filter(r => !roles.has(r))
  if (roles.size === 0) {
    throw new CertificateError(`${what} (${name}) holds no gridd role (made before roles existed?): reissue it with \`grid certs issue ${name} --role ${needed.join(',')} --force\``)
  }
  if (missing.length > 0) {
    const why = missing.includes('agent') && options.agent ? `run an agent (--agent) it needs the agent role` : 'join a grid as a node it needs the member role'
    throw new CertificateError(`${what} (${name}) has roles ${describeRoles(roles)}; to ${why}: issue one with \`grid certs issue <name> --role ${needed.join(',')}\``)
  }
  return roles
}
