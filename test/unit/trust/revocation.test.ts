import { describe, it, expect, beforeAll, vi } from 'vitest'
import { pino } from 'pino'
import { streamPair } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { createCa } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { createCrl } from '../../../src/certs/crl.ts'
import { crlDerFromPem } from '../../../src/trust/crl-parse.ts'
import { CrlStore } from '../../../src/trust/crl-store.ts'
import { crlHandler } from '../../../src/trust/crl-protocol.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import { Revocation } from '../../../src/trust/revocation.ts'
import type { RevocationLibp2p } from '../../../src/trust/revocation.ts'
import { Rejections } from '../../../src/transport/rejections.ts'

const log = pino({ level: 'silent' })
let ca: CertKeyPair

beforeAll(async () => { ca = await createCa() })

async function crl (number: bigint): Promise<Uint8Array> {
  return crlDerFromPem(await createCrl(ca, [{ serial: 'abc', revokedAt: new Date() }], number))
}

const peerId = (id: string): PeerId => ({ toString: () => id }) as unknown as PeerId

/**
 * libp2p connected to member M (js-libp2p style stub): each dialProtocol to M
 * fails while `failures` is above zero, else opens a stream to M's CRL handler.
 */
function stubLibp2p (mStore: CrlStore, failures: number): RevocationLibp2p & { attempts: number, connected: Set<string> } {
  const connected = new Set(['M'])
  const stub = {
    attempts: 0,
    connected,
    getConnections: () => [...connected].map(id => ({ remotePeer: peerId(id) }) as unknown as Connection),
    hangUp: async (peer: PeerId) => { connected.delete(peer.toString()) },
    handle: async () => {},
    unhandle: async () => {},
    addEventListener: () => {},
    removeEventListener: () => {},
    dialProtocol: async (): Promise<Stream> => {
      stub.attempts++
      if (failures-- > 0) throw new Error('M is paused')
      const [outbound, inbound] = await streamPair()
      void crlHandler(mStore, new Rejections(log), log)(inbound, { remotePeer: peerId('us') } as unknown as Connection)
      return outbound
    }
  }
  return stub as unknown as RevocationLibp2p & { attempts: number, connected: Set<string> }
}

function member (): PeerCredentials {
  const credentials = new PeerCredentials()
  credentials.record('M', { name: 'm', serial: '1', roles: new Set(['member']), notAfter: Infinity })
  return credentials
}

describe('Revocation', () => {
  it('offers a newer CRL again to a member that missed it, until that member holds it', async () => {
    const store = new CrlStore(ca.cert)
    const mStore = new CrlStore(ca.cert)
    const libp2p = stubLibp2p(mStore, 1)
    const revocation = new Revocation({ libp2p, credentials: member(), store, ownSerials: ['f'], resendFirstMs: 20, resendMaxMs: 100 }, log)
    await revocation.start()
    try {
      store.offer(await crl(2n))
      await vi.waitFor(() => { expect(mStore.current?.number).toBe(2n) }, { timeout: 2000 })
      expect(libp2p.attempts).toBe(2)
      // M holds it now: no further offers
      await new Promise(resolve => setTimeout(resolve, 150))
      expect(libp2p.attempts).toBe(2)
    } finally {
      await revocation.stop()
    }
  })

  it('backs off, and stops offering once the member disconnects or the node stops', async () => {
    const store = new CrlStore(ca.cert)
    const libp2p = stubLibp2p(new CrlStore(ca.cert), Infinity)
    const revocation = new Revocation({ libp2p, credentials: member(), store, ownSerials: ['f'], resendFirstMs: 20, resendMaxMs: 40 }, log)
    await revocation.start()
    store.offer(await crl(1n))
    // offers at 0, 20, 60, 100 ms ...: more than one, and far fewer than one per millisecond
    await vi.waitFor(() => { expect(libp2p.attempts).toBeGreaterThanOrEqual(3) }, { timeout: 2000 })
    libp2p.connected.delete('M')
    await new Promise(resolve => setTimeout(resolve, 60))
    const afterDisconnect = libp2p.attempts
    await new Promise(resolve => setTimeout(resolve, 150))
    expect(libp2p.attempts).toBe(afterDisconnect)

    libp2p.connected.add('M')
    store.offer(await crl(2n))
    await vi.waitFor(() => { expect(libp2p.attempts).toBeGreaterThan(afterDisconnect + 1) }, { timeout: 2000 })
    await revocation.stop()
    const afterStop = libp2p.attempts
    await new Promise(resolve => setTimeout(resolve, 150))
    expect(libp2p.attempts).toBe(afterStop)
  })
})
