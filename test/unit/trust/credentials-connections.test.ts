import { describe, it, expect } from 'vitest'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import type { PeerCredential, VerifiedConnection } from '../../../src/trust/credentials.ts'
import type { Role } from '../../../src/trust/roles.ts'
import { ERR_FORBIDDEN } from '../../../src/errors.ts'

/** A raw connection as the encrypter hands it over: aborting it closes it. */
class FakeConnection extends EventTarget {
  status: VerifiedConnection['status'] = 'open'
  /** libp2p's Connection over it takes over this very object, which names the raw connection to handlers. */
  readonly timeline = { open: Date.now() }
  abortedWith?: Error

  abort (err: Error): void {
    this.abortedWith = err
    this.status = 'aborted'
    this.dispatchEvent(new Event('close'))
  }

  /** The remote end hung up. */
  closedByPeer (): void {
    this.status = 'closed'
    this.dispatchEvent(new Event('close'))
  }
}

const asVerified = (c: FakeConnection): VerifiedConnection => c as unknown as VerifiedConnection

function certificate (serial: string, roles: Role[] = ['member']): PeerCredential {
  return { name: 'node', serial, roles: new Set(roles), notAfter: Date.now() + 60_000 }
}

/** One key, two certificates (GRID_TLS_SERVER_* and GRID_TLS_CLIENT_*), each presented on a connection of its own. */
function twoCertificates (): { credentials: PeerCredentials, server: FakeConnection, client: FakeConnection } {
  const credentials = new PeerCredentials()
  const server = new FakeConnection()
  const client = new FakeConnection()
  credentials.record('p', certificate('5e', ['member']), asVerified(server))
  // the newer handshake: its certificate speaks for the peer
  credentials.record('p', certificate('c1', ['member', 'agent']), asVerified(client))
  return { credentials, server, client }
}

describe('PeerCredentials: the certificate of each open connection', () => {
  it('a condemned connection spared (for a last message) stays open but no longer speaks for the peer, until its abortSpared', () => {
    const credentials = new PeerCredentials()
    const connection = new FakeConnection()
    credentials.record('p', certificate('5e', ['member']), asVerified(connection))
    const [condemned] = credentials.dropWhere(c => c.serial === '5e', 'is revoked', (peer, c) => peer === 'p' && c.roles.has('member'))
    expect(condemned).toMatchObject({ peer: 'p', closed: 1, dropped: true })
    expect(connection.abortedWith).toBeUndefined()
    // nothing it sends on it is authorized any more, and gossip it wrote is refused
    expect(credentials.get('p', connection)).toBeUndefined()
    expect(credentials.wasDropped('p')).toBe(true)
    condemned?.abortSpared?.()
    expect(connection.abortedWith).toMatchObject({ code: ERR_FORBIDDEN, message: 'peer p\'s certificate 5e is revoked' })
  })

  it('revoking the certificate an older connection presented closes that connection only; the peer stays trusted', () => {
    const { credentials, server, client } = twoCertificates()
    const condemned = credentials.dropWhere(c => c.serial === '5e', 'is revoked')
    expect(condemned).toEqual([{ peer: 'p', credential: expect.objectContaining({ serial: '5e' }), closed: 1, dropped: false }])
    expect(server.abortedWith).toMatchObject({ code: ERR_FORBIDDEN, message: 'peer p\'s certificate 5e is revoked' })
    expect(client.abortedWith).toBeUndefined()
    expect(credentials.get('p')?.serial).toBe('c1')
    expect(credentials.wasDropped('p')).toBe(false)
  })

  it('revoking the newest certificate closes its connection, and the valid one still open speaks for the peer (its roles)', () => {
    const { credentials, server, client } = twoCertificates()
    const condemned = credentials.dropWhere(c => c.serial === 'c1', 'is revoked')
    expect(condemned).toEqual([{ peer: 'p', credential: expect.objectContaining({ serial: 'c1' }), closed: 1, dropped: false }])
    expect(client.abortedWith).toBeDefined()
    expect(server.abortedWith).toBeUndefined()
    expect(credentials.get('p')?.serial).toBe('5e')
    expect(credentials.has('p', 'agent')).toBe(false)
    expect(credentials.has('p', 'member')).toBe(true)
    expect(credentials.wasDropped('p')).toBe(false)
  })

  it('a peer left with no valid certificate is dropped, every connection closed', () => {
    const { credentials, server, client } = twoCertificates()
    const condemned = credentials.dropWhere(() => true, 'expired')
    expect(condemned).toEqual([{ peer: 'p', credential: expect.objectContaining({ serial: 'c1' }), closed: 2, dropped: true }])
    expect(server.abortedWith).toBeDefined()
    expect(client.abortedWith).toBeDefined()
    expect(credentials.get('p')).toBeUndefined()
    expect(credentials.wasDropped('p')).toBe(true)
    // a log line about it (member:fail, peer disconnected) still names it
    expect(credentials.nameOf('p')).toBe('node')
    expect(credentials.nameOf('never-seen')).toBeUndefined()
  })

  it('a renewed peer is not dropped when its old certificate expires after the connection that presented it closed', () => {
    const { credentials, server, client } = twoCertificates()
    server.closedByPeer()
    expect(credentials.dropWhere(c => c.serial === '5e', 'expired')).toEqual([])
    expect(client.abortedWith).toBeUndefined()
    expect(credentials.get('p')?.serial).toBe('c1')
  })

  it('a connection already closed when recorded is not kept (no close event would take it back)', () => {
    const credentials = new PeerCredentials()
    const gone = new FakeConnection()
    gone.status = 'closed'
    credentials.record('p', certificate('5e'), asVerified(gone))
    credentials.record('p', certificate('c1'))
    expect(credentials.dropWhere(c => c.serial === '5e', 'is revoked')).toEqual([])
    expect(gone.abortedWith).toBeUndefined()
  })

  it('a peer only remembered is dropped when its certificate is condemned, nothing to close', () => {
    const credentials = new PeerCredentials()
    credentials.record('p', certificate('5e'))
    expect(credentials.dropWhere(c => c.serial === '5e', 'is revoked')).toEqual([{ peer: 'p', credential: expect.objectContaining({ serial: '5e' }), closed: 0, dropped: true }])
    expect(credentials.wasDropped('p')).toBe(true)
  })
  it('when the connection whose certificate speaks for the peer closes, the newest still open speaks again (its roles)', () => {
    const { credentials, server, client } = twoCertificates()
    expect(credentials.has('p', 'agent')).toBe(true)
    client.closedByPeer()
    expect(credentials.get('p')?.serial).toBe('5e')
    expect(credentials.has('p', 'agent')).toBe(false)
    // the last one closing leaves the peer remembered as it was
    server.closedByPeer()
    expect(credentials.get('p')?.serial).toBe('5e')
  })
  it('a request is judged by the certificate presented on the connection it came on, not by the newest of the peer', () => {
    const { credentials, server, client } = twoCertificates()
    const on = (c: FakeConnection): { timeline: FakeConnection['timeline'] } => ({ timeline: c.timeline })
    // the older connection's narrower certificate does not borrow the newer one's agent role, nor lend its own
    expect(credentials.has('p', 'agent', on(server))).toBe(false)
    expect(credentials.has('p', 'agent', on(client))).toBe(true)
    expect(() => { credentials.authorize('p', ['agent'], '/test/1.0.0', on(server)) }).toThrow(expect.objectContaining({ code: ERR_FORBIDDEN }))
    expect(() => { credentials.authorize('p', ['agent'], '/test/1.0.0', on(client)) }).not.toThrow()
    // gossip the peer authored (no connection): the newest certificate
    expect(credentials.has('p', 'agent')).toBe(true)
    // a connection that closed is no longer named by its timeline: the peer's certificate answers
    server.closedByPeer()
    expect(credentials.get('p', on(server))?.serial).toBe('c1')
    // one not tracked at all (a handler stub without a timeline) falls back to the peer's
    expect(credentials.get('p', {} as unknown as { timeline: FakeConnection['timeline'] })?.serial).toBe('c1')
  })
})
