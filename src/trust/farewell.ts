import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import type { PeerCredentials } from './credentials.ts'
import type { VerifiedCrl } from './crl-parse.ts'
import { CRL_PROTOCOL, offerCrl } from './crl-protocol.ts'
import { ForbiddenError } from '../errors.ts'
import type { Logger } from '../logger.ts'

/** While a revoked member is handed its CRL, the other streams on its condemned connections are cut this often. */
export const FAREWELL_WATCH_MS = 20

/**
 * Offers `crl` to `peer`, whose certificate it revokes, on its condemned connections (those whose certificate
 * no longer speaks for it: `credentials.presented` has none for them), and nothing else: the streams open on
 * them are cut first, and any opened meanwhile by either side (gossipsub opens its own again when the peer opens
 * one; a membership beat line) is cut within FAREWELL_WATCH_MS, on a connection still upgrading when the CRL came
 * too (read again at each tick). A connection that presented a valid certificate (a renewed one) is left alone.
 * Tried on each condemned connection in turn until one takes it (one may be a CLI run's, with no CRL handler).
 * `signal` bounds it (FAREWELL_MS, and the node's stop).
 */
export async function handCrlOnWayOut (libp2p: Pick<Libp2p, 'getConnections'>, credentials: Pick<PeerCredentials, 'presented'>, peer: PeerId, crl: VerifiedCrl, signal: AbortSignal, log: Logger): Promise<void> {
  const condemned = (): Connection[] => libp2p.getConnections(peer).filter(c => c.status === 'open' && credentials.presented(c) == null)
  const cut = (): void => {
    for (const connection of condemned()) {
      for (const stream of connection.streams) {
        // an outbound stream still negotiating (no protocol yet: '' in libp2p 3) carries only the protocol's
        // name; ours is the CRL's once negotiated, any other is cut at the next tick
        if (stream.direction === 'outbound' && (stream.protocol == null || stream.protocol === '' || stream.protocol === CRL_PROTOCOL)) continue
        stream.abort(new ForbiddenError(`peer ${peer.toString()}'s certificate is revoked`))
      }
    }
  }
  const first = condemned()
  if (first.length === 0) return
  cut()
  const watch = setInterval(cut, FAREWELL_WATCH_MS)
  // never left running: a step that ignores the signal (the peer store's merge in newStream) must not keep it
  watch.unref()
  const stopWatching = (): void => { clearInterval(watch) }
  signal.addEventListener('abort', stopWatching, { once: true })
  try {
    for (const connection of first) {
      if (signal.aborted) return
      try {
        const result = await offerCrl(await connection.newStream(CRL_PROTOCOL, { signal }), crl, { signal })
        log.info({ peer: peer.toString(), number: crl.number.toString(), outcome: result.outcome }, `handed revocation list ${crl.number.toString()} to peer ${peer.toString()}, which it revokes`)
        return
      } catch (err) {
        log.debug({ peer: peer.toString(), err }, 'could not hand the revocation list to the peer it revokes on one of its connections')
      }
    }
  } finally {
    stopWatching()
    signal.removeEventListener('abort', stopWatching)
  }
}
