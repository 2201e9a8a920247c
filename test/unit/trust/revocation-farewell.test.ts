import { it, expect, vi } from 'vitest'
import pino from 'pino'
import type { Connection, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import type { VerifiedConnection } from '../../../src/trust/credentials.ts'
import { Revocation } from '../../../src/trust/revocation.ts'
import { CRL_PROTOCOL } from '../../../src/trust/crl-protocol.ts'
import { FAREWELL_MS } from '../../../src/trust/drop-peer.ts'
import { crlStoreStub, revocationLibp2p } from './revocation-fixture.ts'

/** The raw connection the handshake verified the certificate on. */
class RawConnection extends EventTarget {
  status: VerifiedConnection['status'] = 'open'
  readonly timeline = { open: Date.now() }
  aborted = false

  abort (): void {
    this.aborted = true
    this.status = 'aborted'
    this.dispatchEvent(new Event('close'))
  }
}

/** A member whose certificate (serial a1) was verified on one open connection, `raw`. */
async function connectedMember (): Promise<{ peerId: PeerId, peer: string, credentials: PeerCredentials, raw: RawConnection }> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const credentials = new PeerCredentials()
  const raw = new RawConnection()
  credentials.record(peerId.toString(), { name: 'gone', serial: 'a1', roles: new Set(['member']), notAfter: Infinity }, raw as unknown as VerifiedConnection)
  return { peerId, peer: peerId.toString(), credentials, raw }
}

it('a revoked member is handed the CRL on its connection before it is aborted: the streams open on it are cut first, and nothing it sends is authorized meanwhile', async () => {
  const { peerId, peer, credentials, raw } = await connectedMember()
  const gossip = { abort: vi.fn() }
  const seen: Array<{ protocol: unknown, gossipCut: boolean, rawOpen: boolean, authorized: boolean }> = []
  const connection = {
    remotePeer: peerId,
    status: 'open',
    streams: [gossip],
    newStream: async (protocol: unknown) => {
      seen.push({ protocol, gossipCut: gossip.abort.mock.calls.length > 0, rawOpen: !raw.aborted, authorized: credentials.has(peer, 'member', raw) })
      throw new Error('the offer failed')
    }
  } as unknown as Connection
  const { store, revoked } = crlStoreStub()
  const libp2p = revocationLibp2p(() => raw.aborted ? [] : [connection])
  const revocation = new Revocation({ libp2p, credentials, store, ownSerials: ['b2'] }, pino({ level: 'silent' }))
  await revocation.start()
  revoked.add('a1')
  store.emit('update', { number: 2n } as never, undefined)
  // its credential is gone at once
  expect(credentials.get(peer)).toBeUndefined()
  expect(credentials.wasDropped(peer)).toBe(true)
  await vi.waitFor(() => { expect(libp2p.hangUp).toHaveBeenCalled() })
  expect(seen).toEqual([{ protocol: CRL_PROTOCOL, gossipCut: true, rawOpen: true, authorized: false }])
  expect(raw.aborted).toBe(true)
  await revocation.stop()
})

it('a revoked member that never answers the offer has its connection aborted after FAREWELL_MS all the same', async () => {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const credentials = new PeerCredentials()
  const raw = new RawConnection()
  credentials.record(peerId.toString(), { name: 'gone', serial: 'a1', roles: new Set(['member']), notAfter: Infinity }, raw as unknown as VerifiedConnection)
  // a stream that never opens, whatever signal it is given
  const connection = { remotePeer: peerId, status: 'open', streams: [], newStream: async () => await new Promise(() => {}) } as unknown as Connection
  const { store, revoked } = crlStoreStub()
  const libp2p = revocationLibp2p(() => raw.aborted ? [] : [connection])
  const revocation = new Revocation({ libp2p, credentials, store, ownSerials: ['b2'] }, pino({ level: 'silent' }))
  await revocation.start()
  const started = Date.now()
  revoked.add('a1')
  store.emit('update', { number: 2n } as never, undefined)
  await vi.waitFor(() => { expect(raw.aborted).toBe(true) }, { timeout: FAREWELL_MS + 2000 })
  expect(Date.now() - started).toBeGreaterThanOrEqual(FAREWELL_MS - 50)
  await revocation.stop()
})

it('a revoked member with two connections: the streams on both are cut, one it opens meanwhile is cut too, the offer goes on to the second when the first fails; a renewed certificate verified meanwhile stays', async () => {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const peer = peerId.toString()
  const credentials = new PeerCredentials()
  const raws = [new RawConnection(), new RawConnection()]
  for (const raw of raws) credentials.record(peer, { name: 'gone', serial: 'a1', roles: new Set(['member']), notAfter: Infinity }, raw as unknown as VerifiedConnection)
  const stream = (direction: string, protocol?: string): { direction: string, protocol?: string, abort: ReturnType<typeof vi.fn> } => ({ direction, protocol, abort: vi.fn() })
  const before = [stream('outbound', '/meshsub/1.1.0'), stream('inbound', '/meshsub/1.1.0')]
  const reopened = stream('outbound', '/meshsub/1.1.0')
  let offeredOn: number | undefined
  const connections = [0, 1].map(i => ({
    remotePeer: peerId,
    status: 'open',
    streams: [before[i]!],
    newStream: async () => {
      if (i === 0) throw new Error('no CRL handler on this one (a CLI run)')
      // the peer opens a gossip stream meanwhile (gossipsub opens its own again): cut within the watch
      connections[1]!.streams.push(reopened)
      await new Promise(resolve => setTimeout(resolve, 100))
      offeredOn = i
      // a handshake verifies a renewed certificate of the same key on a new connection meanwhile
      credentials.record(peer, { name: 'gone', serial: 'b7', roles: new Set(['member']), notAfter: Infinity }, new RawConnection() as unknown as VerifiedConnection)
      throw new Error('the stream ends there (the test has no CRL peer)')
    }
  }))
  const { store, revoked } = crlStoreStub()
  const libp2p = revocationLibp2p(() => raws.every(r => r.aborted) ? [] : connections as unknown as Connection[])
  const revocation = new Revocation({ libp2p, credentials, store, ownSerials: ['c3'] }, pino({ level: 'silent' }))
  await revocation.start()
  revoked.add('a1')
  store.emit('update', { number: 2n } as never, undefined)
  await vi.waitFor(() => { expect(raws.every(r => r.aborted)).toBe(true) }, { timeout: FAREWELL_MS + 2000 })
  expect(before.map(s => s.abort.mock.calls.length > 0), 'the streams open on both connections cut').toEqual([true, true])
  expect(reopened.abort, 'a stream opened during the farewell cut').toHaveBeenCalled()
  expect(offeredOn, 'offered on the second connection once the first failed').toBe(1)
  expect(credentials.get(peer)?.serial, 'the renewed certificate still speaks for the peer').toBe('b7')
  expect(credentials.wasDropped(peer)).toBe(false)
  expect(libp2p.hangUp, 'no hang-up on a peer verified again').not.toHaveBeenCalled()
  await revocation.stop()
})

it('the watch spares our own CRL stream while it negotiates (protocol \'\' in libp2p 3) and a connection that presented a valid certificate, and cuts a condemned connection that finished its upgrade only after the CRL came', async () => {
  const { peerId, peer, credentials, raw } = await connectedMember()
  const late = new RawConnection()
  credentials.record(peer, { name: 'gone', serial: 'a1', roles: new Set(['member']), notAfter: Infinity }, late as unknown as VerifiedConnection)
  const renewed = new RawConnection()
  const stream = (direction: string, protocol: string): { direction: string, protocol: string, abort: ReturnType<typeof vi.fn> } => ({ direction, protocol, abort: vi.fn() })
  const ours = stream('outbound', '')
  const onLate = stream('inbound', '/meshsub/1.1.0')
  const onRenewed = stream('inbound', '/meshsub/1.1.0')
  const libp2pConnection = (over: RawConnection, streams: unknown[], newStream?: () => Promise<never>): Connection => ({ remotePeer: peerId, status: 'open', timeline: over.timeline, streams, newStream } as unknown as Connection)
  let upgraded = false
  let renewedOpen = false
  const first = libp2pConnection(raw, [], async () => {
    first.streams.push(ours as never)
    // negotiating over a slow link: several ticks of the watch; meanwhile the upgrade of the other condemned
    // connection ends, and the peer connects again with a renewed certificate
    upgraded = true
    credentials.record(peer, { name: 'gone', serial: 'b7', roles: new Set(['member']), notAfter: Infinity }, renewed as unknown as VerifiedConnection)
    renewedOpen = true
    await new Promise(resolve => setTimeout(resolve, 120))
    throw new Error('the stream ends there (the test has no CRL peer)')
  })
  const connections = (): Connection[] => [first, ...(upgraded ? [libp2pConnection(late, [onLate])] : []), ...(renewedOpen ? [libp2pConnection(renewed, [onRenewed])] : [])]
  const { store, revoked } = crlStoreStub()
  const libp2p = revocationLibp2p(() => raw.aborted ? [] : connections())
  const revocation = new Revocation({ libp2p, credentials, store, ownSerials: ['c3'] }, pino({ level: 'silent' }))
  await revocation.start()
  revoked.add('a1')
  store.emit('update', { number: 2n } as never, undefined)
  await vi.waitFor(() => { expect(raw.aborted).toBe(true) }, { timeout: FAREWELL_MS + 2000 })
  expect(ours.abort, 'our CRL stream, still negotiating').not.toHaveBeenCalled()
  expect(onLate.abort, 'a stream on the condemned connection that finished its upgrade late').toHaveBeenCalled()
  expect(onRenewed.abort, 'a stream on the connection of the renewed certificate').not.toHaveBeenCalled()
  await revocation.stop()
})
