import { PeerCredentials } from '../../src/trust/credentials.ts'
import type { RoleCheck } from '../../src/trust/credentials.ts'
import type { Role } from '../../src/trust/roles.ts'
import { ROLES } from '../../src/trust/roles.ts'

/**
 * Role checks for unit tests that stub libp2p (no handshake records anyone): every
 * peer holds `roles` (all of them by default), as if its certificate said so.
 */
export function trustEveryone (roles: readonly Role[] = ROLES): RoleCheck {
  const real = new PeerCredentials()
  const credential = (peer: string): void => {
    if (real.get(peer) == null) real.record(peer, { name: 'test-peer', serial: '1', roles: new Set(roles), notAfter: Number.MAX_SAFE_INTEGER })
  }
  return {
    has: (peer, role) => { credential(peer); return real.has(peer, role) },
    get: peer => { credential(peer); return real.get(peer) },
    wasDropped: () => false,
    authorize: (peer, allowed, what) => { credential(peer); real.authorize(peer, allowed, what) },
    forbid: (peer, what, allowed) => real.forbid(peer, what, allowed),
    nameOf: peer => real.nameOf(peer)
  }
}
