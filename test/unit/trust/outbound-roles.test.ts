import { it, expect } from 'vitest'
import { createCa, exportKey, generateKeys, signCertificate } from '../../../src/certs/create.ts'
import type { Role } from '../../../src/trust/roles.ts'
import { GridNode } from '../../../src/node.ts'
import { CertificateError } from '../../../src/errors.ts'

/** One key, two certificates (inbound `roles`, outbound `outboundRoles`), as GRID_TLS_SERVER_* and GRID_TLS_CLIENT_* give a node. */
async function twoCertificates (roles: Role[], outboundRoles: Role[]): Promise<{ ca: string, cert: string, key: string, outbound: { cert: string, key: string } }> {
  const ca = await createCa()
  const keys = await generateKeys()
  const key = await exportKey(keys.privateKey)
  const cert = await signCertificate(ca, keys.publicKey, { name: 'n1', roles })
  const outbound = await signCertificate(ca, keys.publicKey, { name: 'n1-out', roles: outboundRoles })
  return { ca: ca.cert, cert, key, outbound: { cert: outbound, key } }
}

it('a node whose outbound certificate lacks the roles its inbound one needs does not start: the seeds would refuse it membership and channel sync', async () => {
  const member = await twoCertificates(['member'], ['client'])
  const started = GridNode.start({ host: '127.0.0.1', port: 0, tls: member })
  await expect(started).rejects.toThrow(CertificateError)
  await expect(GridNode.start({ host: '127.0.0.1', port: 0, tls: member })).rejects.toThrow("this node's outbound certificate (tls.outbound, GRID_TLS_CLIENT_CERT) (n1-out) has roles client; to join a grid as a node it needs the member role")
  // an agent presents the agent role when it dials too
  const agent = await twoCertificates(['member', 'agent'], ['member'])
  await expect(GridNode.start({ host: '127.0.0.1', port: 0, tls: agent, agent: { workers: 1 } })).rejects.toThrow(/outbound certificate .*\(n1-out\) has roles member; to run an agent \(--agent\) it needs the agent role/)
})
