import type { PeerCredentials } from './credentials.ts'
import { connectedPeersWhere, dropPeer } from './drop-peer.ts'
import type { TrustLibp2p } from './drop-peer.ts'
import type { Logger } from '../logger.ts'

const DAY_MS = 24 * 60 * 60 * 1000
/** A node's own certificate is warned about this long before it expires. */
export const EXPIRY_WARNING_MS = 30 * DAY_MS

export interface CertificateExpiryInit {
  /** This node's certificate's notAfter (ms since the epoch); the earlier of two when it has an outbound pair. */
  ownNotAfter: number
  /** How often peers' certificates are re-checked. */
  checkMs: number
}

/**
 * Certificates expire while connected: every `checkMs` each open connection's
 * verified certificate is checked, and a peer whose certificate has expired is
 * disconnected (the handshake refuses it from then on). The node's own
 * certificate is warned about at start and once a day within 30 days of its end.
 */
export class CertificateExpiry {
  private readonly libp2p: TrustLibp2p
  private readonly credentials: Pick<PeerCredentials, 'get' | 'forget'>
  private readonly ownNotAfter: number
  private readonly checkMs: number
  private readonly log: Logger
  private timer?: ReturnType<typeof setInterval>
  private lastOwnWarning = -Infinity
  private ownExpiredLogged = false

  constructor (libp2p: TrustLibp2p, credentials: Pick<PeerCredentials, 'get' | 'forget'>, init: CertificateExpiryInit, log: Logger) {
    this.libp2p = libp2p
    this.credentials = credentials
    this.ownNotAfter = init.ownNotAfter
    this.checkMs = init.checkMs
    this.log = log.child({ component: 'expiry' })
  }

  start (): void {
    this.checkOwn(Date.now())
    this.timer = setInterval(() => { this.check() }, this.checkMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** One round: drops peers whose certificate expired, and warns about our own when due. */
  check (now = Date.now()): void {
    for (const { peer, credential } of connectedPeersWhere(this.libp2p, this.credentials, c => c.notAfter <= now)) {
      this.log.warn({ peer: peer.toString(), name: credential.name, serial: credential.serial, notAfter: new Date(credential.notAfter).toISOString() }, `disconnected peer ${peer.toString()} ("${credential.name}"): its certificate expired`)
      void dropPeer(this.libp2p, this.credentials, peer)
    }
    this.checkOwn(now)
  }

  private checkOwn (now: number): void {
    const left = this.ownNotAfter - now
    const expires = new Date(this.ownNotAfter).toISOString()
    if (left <= 0) {
      if (!this.ownExpiredLogged) this.log.error({ notAfter: expires }, `this node's certificate expired on ${expires}: members refuse it; issue a new one (\`grid certs issue\`) and restart`)
      this.ownExpiredLogged = true
    } else if (left <= EXPIRY_WARNING_MS && now - this.lastOwnWarning >= DAY_MS) {
      this.lastOwnWarning = now
      const days = Math.floor(left / DAY_MS)
      this.log.warn({ notAfter: expires, daysLeft: days }, `this node's certificate expires in ${days === 0 ? 'less than a day' : `${days} day${days === 1 ? '' : 's'}`} (${expires}): issue a new one (\`grid certs issue\`)`)
    }
  }
}
