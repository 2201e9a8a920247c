import { EventEmitter } from 'node:events'
import { vi } from 'vitest'
import type { Connection } from '@libp2p/interface'
import type { CrlStore } from '../../../src/trust/crl-store.ts'
import type { RevocationLibp2p } from '../../../src/trust/revocation.ts'

/** A CRL store that lists the serials in `revoked`; `store.emit('update', crl, from)` plays a newer CRL arriving. */
export function crlStoreStub (): { store: CrlStore, revoked: Set<string> } {
  const revoked = new Set<string>()
  const store = Object.assign(new EventEmitter(), { isRevoked: (serial: string) => revoked.has(serial), current: undefined, flush: async () => {} }) as unknown as CrlStore
  return { store, revoked }
}

/** The libp2p a Revocation sees: `connections()` open now, hang-ups recorded, no dial answered. */
export function revocationLibp2p (connections: () => Connection[]): RevocationLibp2p & { hangUp: ReturnType<typeof vi.fn> } {
  return {
    getConnections: connections,
    hangUp: vi.fn(async () => {}),
    handle: async () => {},
    unhandle: async () => {},
    dialProtocol: async () => { throw new Error('no') },
    addEventListener: () => {},
    removeEventListener: () => {}
  } as unknown as RevocationLibp2p & { hangUp: ReturnType<typeof vi.fn> }
}
