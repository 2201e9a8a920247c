import type { Role } from './roles.ts'
import { describeRoles } from './roles.ts'
import { ForbiddenError } from '../errors.ts'
import type { Logger } from '../logger.ts'

/** What the mTLS handshake verified about a peer's certificate. */
export interface PeerCredential {
  /** The certificate's subject CN. */
  name: string
  /** Hex serial number, lower case, no leading zeros (as CRLs list it). */
  serial: string
  roles: ReadonlySet<Role>
  /** Milliseconds since the epoch. */
  notAfter: number
}

/** Peers remembered after their connections close (their roles still decide relayed gossip). */
const MAX_REMEMBERED = 16_384
/** Peers dropped for a revoked or expired certificate, remembered so gossip they wrote stays refused; the oldest forgotten beyond this. */
const MAX_DROPPED = 4096
/** Refusals logged once per peer and protocol; the set is cleared when it reaches this. */
const MAX_LOGGED_REFUSALS = 4096

/**
 * The verified roles of every peer this node has completed a handshake with.
 * The peer id is the certificate's own key, so one peer id is one certificate;
 * the encrypter records it before libp2p sees the connection, so every
 * protocol handler finds its caller here.
 */
export class PeerCredentials {
  private readonly byPeer = new Map<string, PeerCredential>()
  private readonly dropped = new Set<string>()
  private readonly logged = new Set<string>()
  private readonly log?: Logger

  constructor (log?: Logger) {
    this.log = log?.child({ component: 'trust' })
  }

  record (peer: string, credential: PeerCredential): void {
    // a handshake verified a valid certificate for it again (renewed, or reissued after revocation)
    this.dropped.delete(peer)
    this.byPeer.delete(peer)
    this.byPeer.set(peer, credential)
    if (this.byPeer.size > MAX_REMEMBERED) {
      const oldest = this.byPeer.keys().next().value
      if (oldest !== undefined) this.byPeer.delete(oldest)
    }
  }

  get (peer: string): PeerCredential | undefined {
    return this.byPeer.get(peer)
  }

  forget (peer: string): void {
    this.byPeer.delete(peer)
  }

  /**
   * `peer`'s certificate was revoked or expired: its credential is forgotten, and the peer
   * remembered as dropped, so gossip it wrote is refused even when another member relays it
   * (an author we know nothing of would pass as vouched for by its relay).
   */
  drop (peer: string): void {
    this.byPeer.delete(peer)
    this.dropped.delete(peer)
    this.dropped.add(peer)
    if (this.dropped.size > MAX_DROPPED) {
      const oldest = this.dropped.values().next().value
      if (oldest !== undefined) this.dropped.delete(oldest)
    }
  }

  /** Drops (as `drop`) every remembered peer whose credential `test` condemns, connected or not; returns them. */
  dropWhere (test: (credential: PeerCredential) => boolean): Array<[string, PeerCredential]> {
    const condemned = [...this.byPeer.entries()].filter(([, credential]) => test(credential))
    for (const [peer] of condemned) this.drop(peer)
    return condemned
  }

  /** Whether `peer` was dropped for a revoked or expired certificate (and not verified again since). */
  wasDropped (peer: string): boolean {
    return this.dropped.has(peer)
  }

  entries (): IterableIterator<[string, PeerCredential]> {
    return this.byPeer.entries()
  }

  has (peer: string, role: Role): boolean {
    return this.byPeer.get(peer)?.roles.has(role) ?? false
  }

  hasAny (peer: string, roles: readonly Role[]): boolean {
    const held = this.byPeer.get(peer)?.roles
    return held != null && roles.some(r => held.has(r))
  }

  /**
   * Throws ForbiddenError unless `peer` holds one of `allowed`; the refusal is
   * logged once per peer and `what` (a protocol, or protocol and operation).
   */
  authorize (peer: string, allowed: readonly Role[], what: string): void {
    if (!this.hasAny(peer, allowed)) throw this.forbid(peer, what, allowed)
  }

  /** The (logged) ForbiddenError for `peer` doing `what`; `allowed` names the roles that would have let it. */
  forbid (peer: string, what: string, allowed: readonly Role[] = []): ForbiddenError {
    const credential = this.byPeer.get(peer)
    const holder = credential == null ? `peer ${peer}` : `peer ${peer} ("${credential.name}", roles ${describeRoles(credential.roles)})`
    const err = new ForbiddenError(allowed.length === 0
      ? `${holder} may not use ${what}`
      : `${holder} may not use ${what}: it needs the ${allowed.join(' or ')} role`)
    this.logRefusal(peer, what, err)
    return err
  }

  private logRefusal (peer: string, what: string, err: ForbiddenError): void {
    const key = `${peer} ${what}`
    if (this.logged.has(key)) return
    if (this.logged.size >= MAX_LOGGED_REFUSALS) this.logged.clear()
    this.logged.add(key)
    this.log?.warn({ peer, protocol: what, err }, err.message)
  }
}

/** What a part of the node needs of the credentials: role checks (unit tests stub it). */
export type RoleCheck = Pick<PeerCredentials, 'has' | 'get' | 'wasDropped' | 'authorize' | 'forbid'>
