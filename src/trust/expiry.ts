import type { PeerCredential, PeerCredentials } from './credentials.ts'
import { enforceCredentials } from './drop-peer.ts'
import type { TrustLibp2p } from './drop-peer.ts'
import type { Logger } from '../logger.ts'

const DAY_MS = 24 * 60 * 60 * 1000
/** A node's own certificate is warned about this long before it expires. */
export const EXPIRY_WARNING_MS = 30 * DAY_MS

export interface CertificateExpiryInit {
  /** This node's certificate's notAfter (ms since the epoch); the earlier of two when it has an outbound pair. */
  ownNotAfter: number
  /** The grid CA's notAfter: every certificate it signed ends with it. */
  caNotAfter?: number
  /** How often peers' certificates are re-checked. */
  checkMs: number
}

/**
 * Certificates expire while connected: every `checkMs` each open connection's
 * verified certificate is checked, and a connection whose certificate has
 * expired is closed (the handshake refuses it from then on); a peer left with
 * no valid certificate is disconnected. A peer only remembered
 * (not connected) whose certificate has expired is dropped too, so gossip it
 * wrote, relayed by another member, is refused. The node's own
 * certificate, and the grid CA, are warned about at start and once a day within
 * 30 days of their end.
 */
export class CertificateExpiry {
  private readonly libp2p: TrustLibp2p
  private readonly credentials: Pick<PeerCredentials, 'drop' | 'dropWhere' | 'wasDropped'>
  private readonly checkMs: number
  private readonly log: Logger
  private readonly warnings: ExpiryWarning[]
  private timer?: ReturnType<typeof setInterval>

  constructor (libp2p: TrustLibp2p, credentials: Pick<PeerCredentials, 'drop' | 'dropWhere' | 'wasDropped'>, init: CertificateExpiryInit, log: Logger) {
    this.libp2p = libp2p
    this.credentials = credentials
    this.checkMs = init.checkMs
    this.log = log.child({ component: 'expiry' })
    this.warnings = [new ExpiryWarning(this.log, { what: 'this node\'s certificate', notAfter: init.ownNotAfter, whenExpired: 'members refuse it', fix: 'issue a new one (`grid certs issue`) and restart' })]
    if (init.caNotAfter != null) {
      this.warnings.push(new ExpiryWarning(this.log, { what: 'the grid CA certificate', notAfter: init.caNotAfter, whenExpired: 'no certificate it signed is accepted any more', fix: 'make a new CA (`grid certs init`), issue every node a certificate under it and restart them' }))
    }
  }

  start (): void {
    this.checkOwn(Date.now())
    this.timer = setInterval(() => { this.check() }, this.checkMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** One round: drops peers whose certificate expired, connected or only remembered, and warns about our own when due. */
  check (now = Date.now()): void {
    enforceCredentials(this.libp2p, this.credentials, (credential: PeerCredential): boolean => credential.notAfter <= now, 'expired', this.log)
    this.checkOwn(now)
  }

  private checkOwn (now: number): void {
    for (const warning of this.warnings) warning.check(now)
  }
}

/** What expires, when, what its expiry means, and what to do about it. */
interface ExpiryWarningOf {
  what: string
  notAfter: number
  whenExpired: string
  fix: string
}

/** Warns at start and once a day within 30 days of `notAfter`, and once (an error) when it has passed. */
class ExpiryWarning {
  private lastWarning = -Infinity
  private expiredLogged = false

  private readonly log: Logger
  private readonly about: ExpiryWarningOf

  constructor (log: Logger, about: ExpiryWarningOf) {
    this.log = log
    this.about = about
  }

  check (now: number): void {
    const { what, notAfter, whenExpired, fix } = this.about
    const left = notAfter - now
    const expires = new Date(notAfter).toISOString()
    if (left <= 0) {
      if (!this.expiredLogged) this.log.error({ notAfter: expires }, `${what} expired on ${expires}: ${whenExpired}; ${fix}`)
      this.expiredLogged = true
    } else if (left <= EXPIRY_WARNING_MS && now - this.lastWarning >= DAY_MS) {
      this.lastWarning = now
      const days = Math.floor(left / DAY_MS)
      this.log.warn({ notAfter: expires, daysLeft: days }, `${what} expires in ${days === 0 ? 'less than a day' : `${days} day${days === 1 ? '' : 's'}`} (${expires}): ${fix}`)
    }
  }
}
