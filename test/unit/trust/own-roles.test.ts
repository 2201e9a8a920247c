import { describe, it, expect } from 'vitest'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import { checkOwnRoles } from '../../../src/trust/own-roles.ts'
import { CertificateError } from '../../../src/errors.ts'
import type { Role } from '../../../src/trust/roles.ts'
import { issueRolelessCertificate } from '../../integration/helpers/foreign-cert.ts'

describe('a node checks its own certificate before it listens', () => {
  const issue = async (name: string, roles: Role[]): Promise<string> => (await issueCertificate(await createCa(), { name, roles })).cert

  it('a member joins; an agent needs member and agent', async () => {
    expect([...checkOwnRoles(await issue('n', ['member']), { agent: false })]).toEqual(['member'])
    expect([...checkOwnRoles(await issue('n', ['member', 'agent']), { agent: true })].sort()).toEqual(['agent', 'member'])
  })

  it('a client certificate cannot run an agent: the error says how to issue one', async () => {
    const cert = await issue('client', ['client'])
    expect(() => checkOwnRoles(cert, { agent: true })).toThrow(CertificateError)
    expect(() => checkOwnRoles(cert, { agent: true })).toThrow('this node\'s certificate (client) has roles client; to run an agent (--agent) it needs the agent role: issue one with `grid certs issue <name> --role member,agent`')
    expect(() => checkOwnRoles(cert, { agent: false })).toThrow('to join a grid as a node it needs the member role: issue one with `grid certs issue <name> --role member`')
  })

  it('an agent-only certificate still needs member to join', async () => {
    const cert = await issue('a', ['agent'])
    expect(() => checkOwnRoles(cert, { agent: true })).toThrow(/join a grid as a node it needs the member role.*--role member,agent/)
  })

  it('a certificate with no role at all is told to be reissued under its own name', async () => {
    const ca = await createCa()
    const { cert } = await issueRolelessCertificate(ca, 'old-node')
    expect(() => checkOwnRoles(cert, { agent: true })).toThrow('this node\'s certificate (old-node) holds no gridd role (made before roles existed?): reissue it with `grid certs issue old-node --role member,agent --force`')
  })
})
