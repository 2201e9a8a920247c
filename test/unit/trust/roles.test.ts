import { describe, it, expect } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import { describeRoles, isRole, parseRoles, roleUri, rolesOfCertificate, ROLES } from '../../../src/trust/roles.ts'
import { ConfigError } from '../../../src/errors.ts'

describe('roles', () => {
  it('parseRoles reads the CLI list: trimmed, de-duplicated, in order', () => {
    expect(parseRoles('agent,member')).toEqual(['agent', 'member'])
    expect(parseRoles(' member , member,admin,')).toEqual(['member', 'admin'])
    expect(parseRoles('client')).toEqual(['client'])
  })

  it('parseRoles refuses an empty list and unknown roles, naming the roles there are', () => {
    expect(() => parseRoles('')).toThrow(ConfigError)
    expect(() => parseRoles(' , ')).toThrow(/at least one of agent, member, client, admin/)
    expect(() => parseRoles('member,root')).toThrow(/"root" is not a role; roles are agent, member, client, admin/)
    // case matters: the SAN URI is compared exactly
    expect(() => parseRoles('Admin')).toThrow(ConfigError)
  })

  it('isRole and roleUri', () => {
    for (const role of ROLES) {
      expect(isRole(role)).toBe(true)
      expect(roleUri(role)).toBe(`urn:gridd:role:${role}`)
    }
    expect(isRole('superuser')).toBe(false)
    expect(isRole('')).toBe(false)
  })

  it('describeRoles', () => {
    expect(describeRoles(new Set(['member', 'agent'] as const))).toBe('member,agent')
    expect(describeRoles([])).toBe('(no role)')
  })

  it('rolesOfCertificate reads exactly the role URIs a CA-issued certificate carries', async () => {
    const ca = await createCa()
    const of = async (roles: Parameters<typeof issueCertificate>[1]['roles']): Promise<string[]> =>
      [...rolesOfCertificate(new X509Certificate((await issueCertificate(ca, { name: 'x', roles })).cert))].sort()
    expect(await of(['member', 'agent'])).toEqual(['agent', 'member'])
    expect(await of(['client'])).toEqual(['client'])
    expect(await of(['admin'])).toEqual(['admin'])
    expect(await of(undefined)).toEqual(['member'])
    // a DNS name that looks like a role grants nothing: only URI entries count
    expect([...rolesOfCertificate(new X509Certificate((await issueCertificate(ca, { name: 'urn-gridd-role-admin', roles: ['client'] })).cert))]).toEqual(['client'])
    // the CA itself holds no role
    expect(rolesOfCertificate(new X509Certificate(ca.cert)).size).toBe(0)
  })

  it('issueCertificate refuses no role or an unknown one', async () => {
    const ca = await createCa()
    await expect(issueCertificate(ca, { name: 'x', roles: [] })).rejects.toThrow(ConfigError)
    await expect(issueCertificate(ca, { name: 'x', roles: ['root' as never] })).rejects.toThrow(/"root" is not a role/)
  })
})
