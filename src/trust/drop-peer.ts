import type { Libp2p, PeerId } from '@libp2p/interface'
import type { PeerCredential, PeerCredentials } from './credentials.ts'
import type { Logger } from '../logger.ts'
import { settledWithin } from '../lifecycle/settled-within.ts'

/** What revocation and expiry use of libp2p: the open connections, and hanging up on a peer. */
export type TrustLibp2p = Pick<Libp2p, 'getConnections' | 'hangUp'>

/** Each peer with an open connection whose verified certificate matches `test`. */
export function connectedPeersWhere (libp2p: TrustLibp2p, credentials: Pick<PeerCredentials, 'get'>, test: (credential: PeerCredential) => boolean): Array<{ peer: PeerId, credential: PeerCredential }> {
  const found = new Map<string, { peer: PeerId, credential: PeerCredential }>()
  for (const connection of libp2p.getConnections()) {
    const id = connection.remotePeer.toString()
    const credential = credentials.get(id)
    if (!found.has(id) && credential != null && test(credential)) found.set(id, { peer: connection.remotePeer, credential })
  }
  return [...found.values()]
}

/** A peer that is no longer trusted gets this long to close gracefully; then its connections are aborted. */
const CLOSE_TIMEOUT_MS = 1000

/**
 * Closes every connection to `peer`. Its credential is dropped first (and
 * synchronously), so a stream still in flight on them is refused by every
 * guarded handler, nothing is sent to it any more, and gossip it wrote is
 * refused whoever relays it.
 */
export async function dropPeer (libp2p: TrustLibp2p, credentials: Pick<PeerCredentials, 'drop'>, peer: PeerId): Promise<void> {
  credentials.drop(peer.toString())
  await libp2p.hangUp(peer, { signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch(() => {})
}

/** The most a farewell may hold a condemned connection open. */
export const FAREWELL_MS = 1000

/**
 * A last message to a dropped peer on its condemned connections (the CRL that condemns it: else a
 * revoked member never learns it, and goes on as a partitioned grid of one). Its credential is gone
 * already, so nothing it sends on them is served; only this node's own message uses them.
 */
export interface Farewell {
  /** Whether the connections on which `peer` presented a condemned certificate stay open for the farewell. */
  spare: (peer: string, credential: PeerCredential) => boolean
  /** Says it, giving up when `signal` aborts (after FAREWELL_MS); the connections are aborted once it settles, or then whatever it does. */
  say: (peer: PeerId, signal: AbortSignal) => Promise<void>
}

/**
 * Closes every connection that presented a certificate `test` condemns (at once: a reset, not the
 * graceful close `dropPeer` gives a peer, so nothing more is served on it), hangs up on every peer
 * left with no valid certificate, and drops those only remembered (gossip they wrote is refused
 * whoever relays it). `why` completes "its certificate …": "expired", "is revoked". With `farewell`,
 * a dropped peer's connections it spares are aborted only once it has had its say (bounded).
 */
export function enforceCredentials (libp2p: TrustLibp2p, credentials: Pick<PeerCredentials, 'drop' | 'dropWhere' | 'wasDropped'>, test: (credential: PeerCredential) => boolean, why: string, log: Logger, farewell?: Farewell): void {
  const connected = new Map<string, PeerId>()
  for (const connection of libp2p.getConnections()) connected.set(connection.remotePeer.toString(), connection.remotePeer)
  for (const { peer, credential, closed, dropped, abortSpared } of credentials.dropWhere(test, why, farewell?.spare)) {
    const fields = { peer, name: credential.name, serial: credential.serial, notAfter: Number.isFinite(credential.notAfter) ? new Date(credential.notAfter).toISOString() : undefined }
    const id = connected.get(peer)
    // a farewell only to a peer dropped for good, connected, with connections spared for it
    const last = farewell != null && abortSpared != null && dropped && id != null ? { to: id, say: farewell.say, abortSpared } : undefined
    if (last == null) abortSpared?.()
    if (dropped && (id != null || closed > 0)) {
      log.warn(fields, `disconnected peer ${peer} ("${credential.name}"): its certificate ${why}`)
      if (last != null) {
        void settledWithin(last.say(last.to, AbortSignal.timeout(FAREWELL_MS)), FAREWELL_MS).then(() => {
          last.abortSpared()
          // a handshake meanwhile verified a valid certificate of the same key (a renewed one): it stays
          if (credentials.wasDropped(peer)) void dropPeer(libp2p, credentials, last.to)
        })
      } else if (id != null) void dropPeer(libp2p, credentials, id)
    } else if (dropped) {
      // a remembered peer's credential vouched for gossip it wrote (relayed by others) until now
      log.debug(fields, `dropped remembered peer ${peer} ("${credential.name}"): its certificate ${why}`)
    } else if (closed > 0) {
      log.warn(fields, `closed ${closed} connection${closed === 1 ? '' : 's'} of peer ${peer} ("${credential.name}") that presented certificate ${credential.serial}: its certificate ${why}; another certificate of the same key is still valid`)
    } else {
      log.info(fields, `certificate ${credential.serial} of peer ${peer} ("${credential.name}") ${why}; the peer stays, on another certificate of the same key still presented on an open connection`)
    }
  }
}
