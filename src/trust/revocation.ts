import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import type { PeerCredentials } from './credentials.ts'
import type { CrlStore } from './crl-store.ts'
import type { VerifiedCrl } from './crl-parse.ts'
import { CRL_PROTOCOL, crlHandler, offerCrl } from './crl-protocol.ts'
import { handCrlOnWayOut } from './farewell.ts'
import { connectedPeersWhere, enforceCredentials } from './drop-peer.ts'
import type { TrustLibp2p } from './drop-peer.ts'
import { guarded } from './guard.ts'
import { Rejections } from '../transport/rejections.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import { ForbiddenError, RemoteError } from '../errors.ts'
import type { Logger } from '../logger.ts'

export type RevocationLibp2p = TrustLibp2p & Pick<Libp2p, 'dialProtocol' | 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener'>

export interface RevocationComponents {
  libp2p: RevocationLibp2p
  credentials: Pick<PeerCredentials, 'get' | 'drop' | 'has' | 'authorize' | 'dropWhere' | 'wasDropped' | 'presented'>
  store: CrlStore
  /** The serials of the certificates this node presents (inbound, and its outbound one if it has its own): a CRL that lists one is logged loudly. */
  ownSerials: readonly string[]
  /** A member that did not take the CRL is offered it again after this long, doubling up to `resendMaxMs`. */
  resendFirstMs?: number
  resendMaxMs?: number
}

/** How many peers one CRL is sent to at once. */
const SEND_CONCURRENCY = 16
const SEND_TIMEOUT_MS = 10_000
const RESEND_FIRST_MS = 1000
const RESEND_MAX_MS = 30_000
/** After this many failed offers to one member, a warning says it still lacks the CRL. */
const RESEND_WARN_AFTER = 3

/** A member that has not taken the CRL held yet: when it is offered it again. */
interface Resend {
  delayMs: number
  failures: number
  timer?: ReturnType<typeof setTimeout>
}

/**
 * Enforces and spreads the newest CRL (DESIGN §11). A newer CRL closes every
 * open connection whose certificate it lists (the handshake refuses them from
 * then on), then goes to every connected member once; a member does the same,
 * so it crosses the grid in a few round trips. Each new connection to a member
 * starts with an offer of the CRL held, so a node that was away catches up.
 * A connected member that did not take it (paused, busy, a stream that failed)
 * is offered it again with backoff until it holds that number or disconnects.
 * Admins push from outside (`grid certs revoke --peer`); members relay.
 */
export class Revocation {
  private readonly libp2p: RevocationLibp2p
  private readonly credentials: RevocationComponents['credentials']
  private readonly store: CrlStore
  private readonly ownSerials: readonly string[]
  private readonly log: Logger
  private readonly rejections: Rejections
  private readonly resendFirstMs: number
  private readonly resendMaxMs: number
  /** By peer id: members still to be offered the CRL held. */
  private readonly resends = new Map<string, Resend>()
  private sending = new AbortController()

  constructor (components: RevocationComponents, log: Logger) {
    this.libp2p = components.libp2p
    this.credentials = components.credentials
    this.store = components.store
    this.ownSerials = components.ownSerials
    this.log = log.child({ component: 'revocation' })
    this.rejections = new Rejections(this.log)
    this.resendFirstMs = components.resendFirstMs ?? RESEND_FIRST_MS
    this.resendMaxMs = components.resendMaxMs ?? RESEND_MAX_MS
  }

  async start (): Promise<void> {
    this.sending = new AbortController()
    this.warnIfOwnRevoked()
    await this.libp2p.handle(CRL_PROTOCOL, guarded(this.credentials, CRL_PROTOCOL, ['admin', 'member'], crlHandler(this.store, this.rejections, this.log)), { maxInboundStreams: 4 })
    this.store.on('update', this.onUpdate)
    this.libp2p.addEventListener('connection:open', this.onConnectionOpen)
  }

  async stop (): Promise<void> {
    this.store.off('update', this.onUpdate)
    this.libp2p.removeEventListener('connection:open', this.onConnectionOpen)
    this.sending.abort()
    for (const resend of this.resends.values()) clearTimeout(resend.timer)
    this.resends.clear()
    await this.libp2p.unhandle(CRL_PROTOCOL)
    await this.store.flush()
  }

  /** Bad CRLs and CRL messages received, for `gridd_rejected_messages_total`. */
  rejected (): RejectedCount[] {
    return this.rejections.counters()
  }

  private readonly onUpdate = (crl: VerifiedCrl, from: string | undefined): void => {
    this.warnIfOwnRevoked()
    // enforce drops the revoked peers' credentials at once, so spread never sends to them
    this.enforce(crl, from)
    void this.spread(crl, from)
  }

  /**
   * Closes every open connection whose certificate the CRL held lists, and the peers left with no
   * valid one; drops every remembered one it lists (gossip it wrote, relayed by a member that has
   * not had this CRL yet, is refused here). A revoked member is handed the CRL on its way out (but
   * by the peer it came from): holding it, it stands down from the grid's leases instead of
   * running them on as the only member it still sees.
   */
  private enforce (crl: VerifiedCrl, from: string | undefined): void {
    enforceCredentials(this.libp2p, this.credentials, c => this.store.isRevoked(c.serial), 'is revoked', this.log, {
      spare: (peer, credential) => peer !== from && credential.roles.has('member'),
      say: async (peer, signal) => { await handCrlOnWayOut(this.libp2p, this.credentials, peer, crl, AbortSignal.any([this.sending.signal, signal]), this.log) }
    })
  }

  /** Sends a newer CRL to every connected member but the one it came from. */
  private async spread (crl: VerifiedCrl, from: string | undefined): Promise<void> {
    const members = connectedPeersWhere(this.libp2p, this.credentials, c => c.roles.has('member') && !this.store.isRevoked(c.serial)).map(p => p.peer).filter(p => p.toString() !== from)
    for (let i = 0; i < members.length && !this.sending.signal.aborted; i += SEND_CONCURRENCY) {
      await Promise.all(members.slice(i, i + SEND_CONCURRENCY).map(async peer => { await this.send(peer, crl) }))
    }
  }

  /**
   * A new connection: offered the CRL held. (One that passed the handshake before a CRL listing its
   * certificate came was closed by `enforce`: the credentials keep every verified connection.)
   */
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail
    const id = connection.remotePeer.toString()
    const crl = this.store.current
    if (crl != null && this.credentials.has(id, 'member')) void this.send(connection, crl)
  }

  /** Offers `crl`; a member that does not end up holding the CRL held (or a newer one) is offered it again later. */
  private async send (to: PeerId | Connection, crl: VerifiedCrl): Promise<void> {
    if (this.sending.signal.aborted) return
    const signal = AbortSignal.any([this.sending.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)])
    const peer = 'remotePeer' in to ? to.remotePeer : to
    const id = peer.toString()
    try {
      const stream = 'remotePeer' in to ? await to.newStream(CRL_PROTOCOL, { signal }) : await this.libp2p.dialProtocol(to, CRL_PROTOCOL, { signal })
      const result = await offerCrl(stream, crl, { signal })
      this.log.debug({ peer: id, number: crl.number.toString(), outcome: result.outcome, theirs: result.number.toString() }, 'offered the revocation list')
      // a newer CRL may have come meanwhile: the peer is done only once it holds that one
      if (result.number >= (this.store.current?.number ?? crl.number)) {
        this.resendDone(id)
        return
      }
    } catch (err) {
      if (this.sending.signal.aborted) return
      if (err instanceof RemoteError || err instanceof ForbiddenError) {
        // the peer answered and refused: asking again gets the same answer
        this.log.warn({ peer: id, number: crl.number.toString(), err }, `peer ${id} refused the revocation list: ${err.message}`)
        this.resendDone(id)
        return
      }
      this.log.debug({ peer: id, err }, 'could not offer the revocation list')
      this.countFailure(id, crl)
    }
    this.resendLater(peer)
  }

  private countFailure (id: string, crl: VerifiedCrl): void {
    const resend = this.resendOf(id)
    if (++resend.failures === RESEND_WARN_AFTER) {
      this.log.warn({ peer: id, number: crl.number.toString(), failures: resend.failures }, `member ${id} has not taken revocation list ${crl.number.toString()} after ${resend.failures} offers; offering it again every ${this.resendMaxMs / 1000} s at most`)
    }
  }

  private resendOf (id: string): Resend {
    let resend = this.resends.get(id)
    if (resend == null) {
      resend = { delayMs: this.resendFirstMs, failures: 0 }
      this.resends.set(id, resend)
    }
    return resend
  }

  /** Offers the CRL held to `peer` again after the next backoff step, unless that is already planned. */
  private resendLater (peer: PeerId): void {
    if (this.sending.signal.aborted) return
    const id = peer.toString()
    const resend = this.resendOf(id)
    if (resend.timer != null) return
    const delayMs = resend.delayMs
    resend.delayMs = Math.min(delayMs * 2, this.resendMaxMs)
    resend.timer = setTimeout(() => {
      resend.timer = undefined
      const crl = this.store.current
      // a peer that disconnected (or lost the member role or was revoked) gets the CRL on its next connection, if any
      if (crl == null || !this.isConnectedMember(id)) {
        this.resendDone(id)
        return
      }
      void this.send(peer, crl)
    }, delayMs)
    resend.timer.unref()
  }

  private resendDone (id: string): void {
    clearTimeout(this.resends.get(id)?.timer)
    this.resends.delete(id)
  }

  private isConnectedMember (id: string): boolean {
    return connectedPeersWhere(this.libp2p, this.credentials, c => c.roles.has('member') && !this.store.isRevoked(c.serial)).some(p => p.peer.toString() === id)
  }

  private warnIfOwnRevoked (): void {
    const revoked = this.ownSerials.filter(serial => this.store.isRevoked(serial))
    if (revoked.length === 0) return
    if (revoked.length === this.ownSerials.length) {
      this.log.error({ serials: revoked }, `this node's own certificate${revoked.length > 1 ? 's are' : ' is'} revoked: every member will refuse it, and it stands down from the grid's deployments and schedules; issue a new one (\`grid certs issue\`)`)
      return
    }
    // one of two: the members refuse the connections that present it, and still take the other's
    this.log.error({ serials: revoked }, `this node's certificate ${revoked.join(', ')} is revoked: the members refuse the connections that present it (it stands down only once every certificate it presents is revoked); issue a new one (\`grid certs issue\`)`)
  }
}
