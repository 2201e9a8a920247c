import { describe, it, expect } from 'vitest'
import { pino } from 'pino'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import type { PeerCredential } from '../../../src/trust/credentials.ts'
import type { Role } from '../../../src/trust/roles.ts'
import { ERR_FORBIDDEN, ForbiddenError } from '../../../src/errors.ts'

function credential (name: string, roles: Role[]): PeerCredential {
  return { name, serial: '1f', roles: new Set(roles), notAfter: Date.now() + 60_000 }
}

/** Credentials whose warn lines land in `lines`. */
function logged (): { credentials: PeerCredentials, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'warn' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>) } })
  return { credentials: new PeerCredentials(log), lines }
}

describe('PeerCredentials', () => {
  it('has / hasAny / get answer from the recorded certificate; an unknown peer holds nothing', () => {
    const c = new PeerCredentials()
    c.record('p1', credential('node', ['member', 'agent']))
    expect(c.has('p1', 'member')).toBe(true)
    expect(c.has('p1', 'admin')).toBe(false)
    expect(c.hasAny('p1', ['client', 'agent'])).toBe(true)
    expect(c.hasAny('p1', ['client', 'admin'])).toBe(false)
    expect(c.hasAny('p1', [])).toBe(false)
    expect(c.get('p1')?.name).toBe('node')
    expect(c.has('stranger', 'member')).toBe(false)
    expect(c.hasAny('stranger', ['agent', 'member', 'client', 'admin'])).toBe(false)
    c.forget('p1')
    expect(c.get('p1')).toBeUndefined()
  })

  it('a later handshake replaces what an earlier one recorded', () => {
    const c = new PeerCredentials()
    c.record('p1', credential('node', ['member']))
    c.record('p1', credential('node', ['client']))
    expect(c.has('p1', 'member')).toBe(false)
    expect(c.has('p1', 'client')).toBe(true)
    expect([...c.entries()]).toHaveLength(1)
  })

  it('remembers a bounded number of peers, forgetting the least recently recorded', () => {
    const c = new PeerCredentials()
    c.record('first', credential('first', ['member']))
    c.record('second', credential('second', ['member']))
    // the first handshakes again: now the second is the oldest
    c.record('first', credential('first', ['member']))
    for (let i = 0; i < 16_384 - 1; i++) c.record(`p${i}`, credential(`p${i}`, ['client']))
    expect([...c.entries()]).toHaveLength(16_384)
    expect(c.get('second')).toBeUndefined()
    expect(c.get('first')).toBeDefined()
  })

  it('authorize passes a peer holding any one of the roles, and throws ForbiddenError naming peer, certificate, roles and what it needed', () => {
    const { credentials, lines } = logged()
    credentials.record('p1', credential('client', ['client']))
    expect(() => { credentials.authorize('p1', ['client', 'member'], '/gridd/status/1.0.0') }).not.toThrow()
    let thrown: unknown
    try {
      credentials.authorize('p1', ['member', 'admin'], '/gridd/spawn/1.0.0')
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(ForbiddenError)
    expect(thrown).toMatchObject({ code: ERR_FORBIDDEN, message: 'peer p1 ("client", roles client) may not use /gridd/spawn/1.0.0: it needs the member or admin role' })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ component: 'trust', peer: 'p1', protocol: '/gridd/spawn/1.0.0', msg: (thrown as Error).message, err: { code: ERR_FORBIDDEN } })
  })

  it('a peer with no recorded certificate is refused too', () => {
    const c = new PeerCredentials()
    expect(() => { c.authorize('ghost', ['client'], '/x') }).toThrow('peer ghost may not use /x: it needs the client role')
  })

  it('forbid without roles (an ownership refusal) says only what was refused', () => {
    const { credentials, lines } = logged()
    credentials.record('p2', credential('n2', ['member']))
    const err = credentials.forbid('p2', '/gridd/worker/1.0.0 to attach to a worker another peer spawned')
    expect(err.message).toBe('peer p2 ("n2", roles member) may not use /gridd/worker/1.0.0 to attach to a worker another peer spawned')
    expect(lines).toHaveLength(1)
  })

  it('logs a refusal once per peer and protocol, however often it is refused', () => {
    const { credentials, lines } = logged()
    credentials.record('p1', credential('client', ['client']))
    credentials.record('p2', credential('client2', ['client']))
    for (let i = 0; i < 50; i++) {
      expect(() => { credentials.authorize('p1', ['member'], '/gridd/spawn/1.0.0') }).toThrow(ForbiddenError)
      expect(() => { credentials.authorize('p1', ['admin'], '/gridd/control/1.0.0') }).toThrow(ForbiddenError)
      expect(() => { credentials.authorize('p2', ['member'], '/gridd/spawn/1.0.0') }).toThrow(ForbiddenError)
    }
    expect(lines.map(l => `${String(l.peer)} ${String(l.protocol)}`).sort()).toEqual(['p1 /gridd/control/1.0.0', 'p1 /gridd/spawn/1.0.0', 'p2 /gridd/spawn/1.0.0'])
  })

  it('the set of logged refusals is bounded: once full it starts over (a flood of peers cannot grow it)', () => {
    const { credentials, lines } = logged()
    for (let i = 0; i < 4096; i++) credentials.forbid(`p${i}`, '/x')
    expect(lines).toHaveLength(4096)
    // still remembered: not logged again
    credentials.forbid('p0', '/x')
    expect(lines).toHaveLength(4096)
    // the 4097th key clears the set, so p0 is logged again afterwards
    credentials.forbid('p4096', '/x')
    credentials.forbid('p0', '/x')
    expect(lines).toHaveLength(4098)
  })
})
