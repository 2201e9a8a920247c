import { describe, it, expect } from 'vitest'
import type { Message } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import type { Role } from '../../../src/trust/roles.ts'
import { gossipRefusal, droppedGossipLine } from '../../../src/trust/gossip-roles.ts'
import { dropPeer } from '../../../src/trust/drop-peer.ts'

const newPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const [RELAY, AUTHOR, STRANGER] = [await newPeer(), await newPeer(), await newPeer()] as [string, string, string]

function signedBy (author: string): Message {
  return { type: 'signed', from: peerIdFromString(author), topic: 't', data: new Uint8Array(), sequenceNumber: 1n, signature: new Uint8Array(), key: undefined as never }
}

describe('gossip only from members', () => {
  const credentials = new PeerCredentials()
  const record = (peer: string, roles: Role[]): void => { credentials.record(peer, { name: peer.slice(-4), serial: '1', roles: new Set(roles), notAfter: Infinity }) }
  record(RELAY, ['member'])
  record(AUTHOR, ['client'])

  it('accepts a message a member relays whose author is a member or unknown to us', () => {
    record(STRANGER, ['member', 'agent'])
    expect(gossipRefusal(credentials, RELAY, signedBy(STRANGER))).toBeUndefined()
    credentials.forget(STRANGER)
    // never connected to the author: the member relaying it ran this same check
    expect(gossipRefusal(credentials, RELAY, signedBy(STRANGER))).toBeUndefined()
    expect(gossipRefusal(credentials, RELAY, { type: 'unsigned', topic: 't', data: new Uint8Array() })).toBeUndefined()
  })

  it('refuses what a non-member hands us, and what a known non-member authored even via a member', () => {
    expect(gossipRefusal(credentials, AUTHOR, signedBy(AUTHOR))).toEqual({ reason: 'forbidden', detail: `relayed by ${AUTHOR}, which lacks the member role` })
    expect(gossipRefusal(credentials, STRANGER, signedBy(RELAY))?.reason).toBe('forbidden')
    expect(gossipRefusal(credentials, RELAY, signedBy(AUTHOR))).toEqual({ reason: 'forbidden', detail: `authored by ${AUTHOR} ("${AUTHOR.slice(-4)}"), which lacks the member role` })
  })

  it('refuses what a peer dropped for a revoked or expired certificate wrote, whoever relays it, until a handshake verifies it again', async () => {
    const [revoked, relay] = [await newPeer(), await newPeer()]
    const creds = new PeerCredentials()
    creds.record(revoked, { name: 'r', serial: '2', roles: new Set(['member']), notAfter: Infinity })
    creds.record(relay, { name: 'y', serial: '3', roles: new Set(['member']), notAfter: Infinity })
    expect(gossipRefusal(creds, relay, signedBy(revoked))).toBeUndefined()
    await dropPeer({ getConnections: () => [], hangUp: async () => {} }, creds, peerIdFromString(revoked))
    expect(gossipRefusal(creds, relay, signedBy(revoked))).toEqual({ reason: 'forbidden', detail: `authored by ${revoked}, whose certificate was revoked or expired` })
    // relayed by itself: it lacks the member role now
    expect(gossipRefusal(creds, revoked, signedBy(revoked))?.reason).toBe('forbidden')
    // a renewed certificate for the same key passed the handshake: a member again
    creds.record(revoked, { name: 'r', serial: '4', roles: new Set(['member']), notAfter: Infinity })
    expect(gossipRefusal(creds, relay, signedBy(revoked))).toBeUndefined()
  })
})

describe('the line for a dropped gossip message', () => {
  it('calls a message refused for its sender or author dropped, not malformed (a revocation is no bug)', () => {
    const detail = `authored by ${AUTHOR}, whose certificate was revoked or expired`
    expect(droppedGossipLine('membership gossip', 'forbidden', detail)).toBe(`dropped membership gossip: ${detail}`)
    expect(droppedGossipLine('channel message', 'schema', 'bad field')).toBe('dropped malformed channel message: bad field')
  })
})
