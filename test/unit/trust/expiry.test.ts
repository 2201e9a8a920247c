import { describe, it, expect } from 'vitest'
import { pino } from 'pino'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Message } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { CertificateExpiry, EXPIRY_WARNING_MS } from '../../../src/trust/expiry.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { gossipRefusal } from '../../../src/trust/gossip-roles.ts'

const DAY = 24 * 60 * 60 * 1000
const NOW = Date.parse('2026-06-01T00:00:00Z')

/** libp2p with one connection per peer id (js-libp2p style stub): hangUp closes it. */
function stubLibp2p (peers: string[]): { getConnections: () => Connection[], hangUp: (peer: PeerId) => Promise<void>, hungUp: string[] } {
  const open = new Set(peers)
  const hungUp: string[] = []
  return {
    hungUp,
    getConnections: () => [...open].map(id => ({ remotePeer: { toString: () => id } }) as unknown as Connection),
    hangUp: async (peer) => { hungUp.push(peer.toString()); open.delete(peer.toString()) }
  }
}

function logged (): { log: pino.Logger, lines: Array<{ level: number, msg: string }> } {
  const lines: Array<{ level: number, msg: string }> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as { level: number, msg: string }) } })
  return { log, lines }
}

function credential (name: string, notAfter: number): Parameters<PeerCredentials['record']>[1] {
  return { name, serial: name, roles: new Set(['member']), notAfter }
}

describe('CertificateExpiry', () => {
  it('disconnects and forgets a connected peer once its certificate has expired, and only then', () => {
    const libp2p = stubLibp2p(['A', 'B'])
    const credentials = new PeerCredentials()
    credentials.record('A', credential('a', NOW + 10_000))
    credentials.record('B', credential('b', NOW + 60 * DAY))
    const { log, lines } = logged()
    const expiry = new CertificateExpiry(libp2p, credentials, { ownNotAfter: NOW + 365 * DAY, checkMs: 1000 }, log)
    expiry.check(NOW + 9_999)
    expect(libp2p.hungUp).toEqual([])
    expiry.check(NOW + 10_000)
    expect(libp2p.hungUp).toEqual(['A'])
    expect(credentials.get('A')).toBeUndefined()
    expect(credentials.get('B')).toBeDefined()
    expect(lines.some(l => l.level === 40 && /"a"\): its certificate expired/.test(l.msg))).toBe(true)
  })

  it('drops a peer only remembered (not connected) once its certificate has expired: gossip it wrote is refused whoever relays it', async () => {
    const newPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const signedBy = (author: string): Message => ({ type: 'signed', from: peerIdFromString(author), topic: 't', data: new Uint8Array(), sequenceNumber: 1n, signature: new Uint8Array(), key: undefined as never })
    const [remembered, stillValid, relay] = [await newPeer(), await newPeer(), await newPeer()]
    const libp2p = stubLibp2p([relay])
    const credentials = new PeerCredentials()
    credentials.record(remembered, credential('r', NOW + 10_000))
    credentials.record(stillValid, credential('v', NOW + 60 * DAY))
    credentials.record(relay, credential('relay', NOW + 60 * DAY))
    const expiry = new CertificateExpiry(libp2p, credentials, { ownNotAfter: NOW + 365 * DAY, checkMs: 1000 }, pino({ level: 'silent' }))
    expiry.check(NOW + 9_999)
    expect(gossipRefusal(credentials, relay, signedBy(remembered))).toBeUndefined()
    expiry.check(NOW + 10_000)
    expect(libp2p.hungUp).toEqual([])
    expect(credentials.get(remembered)).toBeUndefined()
    expect(gossipRefusal(credentials, relay, signedBy(remembered))?.reason).toBe('forbidden')
    expect(gossipRefusal(credentials, relay, signedBy(stillValid))).toBeUndefined()
    expect(gossipRefusal(credentials, relay, signedBy(relay))).toBeUndefined()
  })

  it('warns about its own certificate within 30 days, at most once a day, and says when it has expired', () => {
    const { log, lines } = logged()
    const ownNotAfter = NOW + EXPIRY_WARNING_MS + DAY
    const expiry = new CertificateExpiry(stubLibp2p([]), new PeerCredentials(), { ownNotAfter, checkMs: 1000 }, log)
    const warnings = (): string[] => lines.filter(l => l.level === 40).map(l => l.msg)
    expiry.check(NOW)
    expect(warnings()).toEqual([])
    expiry.check(NOW + 2 * DAY)
    expect(warnings()).toEqual([expect.stringMatching(/certificate expires in 29 days/)])
    expiry.check(NOW + 2 * DAY + 1000)
    expect(warnings()).toHaveLength(1)
    expiry.check(NOW + 3 * DAY)
    expect(warnings()).toHaveLength(2)
    expiry.check(ownNotAfter + 1)
    expiry.check(ownNotAfter + 2)
    expect(lines.filter(l => l.level === 50 && /certificate expired/.test(l.msg))).toHaveLength(1)
  })

  it('warns about the grid CA within 30 days of its end too (every certificate ends with it), and says when it has expired', () => {
    const { log, lines } = logged()
    const caNotAfter = NOW + 10 * DAY
    const expiry = new CertificateExpiry(stubLibp2p([]), new PeerCredentials(), { ownNotAfter: NOW + 365 * DAY, caNotAfter, checkMs: 1000 }, log)
    expiry.check(NOW)
    expect(lines.filter(l => l.level === 40).map(l => l.msg)).toEqual([expect.stringMatching(/^the grid CA certificate expires in 10 days .*grid certs init/)])
    expiry.check(caNotAfter + 1)
    expect(lines.filter(l => l.level === 50).map(l => l.msg)).toEqual([expect.stringMatching(/^the grid CA certificate expired on .*no certificate it signed is accepted any more/)])
  })
})
