import { describe, it, expect, vi } from 'vitest'
import pino from 'pino'
import type { Message } from '@libp2p/gossipsub'
import type { Connection } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { Revocation } from '../../../src/trust/revocation.ts'
import { crlStoreStub, revocationLibp2p } from './revocation-fixture.ts'
import { gossipRefusal } from '../../../src/trust/gossip-roles.ts'

const newPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
const signedBy = (author: string): Message => ({ type: 'signed', from: peerIdFromString(author), topic: 't', data: new Uint8Array(), sequenceNumber: 1n, signature: new Uint8Array(), key: undefined as never })

describe('Revocation and relayed gossip', () => {
  it('a revoked peer, connected or only remembered, authors no gossip any more, whichever member relays it', async () => {
    const [connected, remembered, relay] = [await newPeer(), await newPeer(), await newPeer()]
    const credentials = new PeerCredentials()
    const member = (serial: string): Parameters<PeerCredentials['record']>[1] => ({ name: serial, serial, roles: new Set(['member']), notAfter: Infinity })
    credentials.record(connected, member('a1'))
    credentials.record(remembered, member('a2'))
    credentials.record(relay, member('a3'))
    const { store, revoked } = crlStoreStub()
    const libp2p = revocationLibp2p(() => [{ remotePeer: peerIdFromString(connected) }] as unknown as Connection[])
    const revocation = new Revocation({ libp2p, credentials, store, ownSerials: ['a3'] }, pino({ level: 'silent' }))
    await revocation.start()
    revoked.add('a1')
    revoked.add('a2')
    store.emit('update', {} as never, undefined)
    await vi.waitFor(() => { expect(libp2p.hangUp).toHaveBeenCalled() })
    expect(gossipRefusal(credentials, relay, signedBy(connected))?.reason).toBe('forbidden')
    expect(gossipRefusal(credentials, relay, signedBy(remembered))?.reason).toBe('forbidden')
    expect(gossipRefusal(credentials, relay, signedBy(relay))).toBeUndefined()
    await revocation.stop()
  })
})
