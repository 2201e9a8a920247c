import type { Connection, MessageStream } from '@libp2p/interface'
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

/** The raw connection a handshake verified a certificate on: closing it closes what libp2p built over it. */
export type VerifiedConnection = Pick<MessageStream, 'addEventListener' | 'abort' | 'status' | 'timeline'>

/**
 * The libp2p connection a request came on, as its handler sees it. libp2p's Connection takes over the
 * `timeline` object of the raw connection it is built on (the same object: closing the raw connection
 * stamps it), so that object names the raw connection whose handshake verified the certificate.
 */
export type RequestConnection = Pick<Connection, 'timeline'>

/** What `dropWhere` did about one peer. */
export interface Condemned {
  peer: string
  /** The condemned certificate (the one remembered for the peer, or else one an open connection presented). */
  credential: PeerCredential
  /** Open connections closed because they presented a condemned certificate. */
  closed: number
  /** Whether the peer was dropped: no certificate it presented on an open connection is still valid. */
  dropped: boolean
  /**
   * Aborts the condemned connections `dropWhere` was told to spare (they no longer speak for the
   * peer: nothing it sends on them is authorized); present only when there are some.
   */
  abortSpared?: () => void
}

/** Peers remembered after their connections close (their roles still decide relayed gossip). */
const MAX_REMEMBERED = 16_384
/** Peers dropped for a revoked or expired certificate, remembered so gossip they wrote stays refused; the oldest forgotten beyond this. */
const MAX_DROPPED = 4096
/** Refusals logged once per peer and protocol; the set is cleared when it reaches this. */
const MAX_LOGGED_REFUSALS = 4096

/**
 * The verified roles of every peer this node has completed a handshake with.
 * The peer id is the certificate's own key; a request is judged by the
 * certificate presented on the connection it came on, anything else (gossip a
 * peer authored) by the newest certificate verified for it. The encrypter
 * records it before libp2p sees the connection, so every protocol handler
 * finds its caller here. One key may
 * present different certificates on different connections (a node with
 * `GRID_TLS_SERVER_*` and `GRID_TLS_CLIENT_*`, or one renewed while an old
 * connection stays open), so the certificate of each open connection is kept
 * too: revocation and expiry close exactly the connections that presented a
 * condemned certificate, and drop the peer only when none valid is left.
 */
export class PeerCredentials {
  private readonly byPeer = new Map<string, PeerCredential>()
  /** By peer: the certificate each of its open connections presented (entries leave as connections close). */
  private readonly open = new Map<string, Map<VerifiedConnection, PeerCredential>>()
  /** The certificate each open connection presented, by the connection's timeline (see RequestConnection). */
  private readonly byTimeline = new WeakMap<object, PeerCredential>()
  /** Peers dropped, with the name their certificate gave (a log line about one still names it). */
  private readonly dropped = new Map<string, string | undefined>()
  private readonly logged = new Set<string>()
  private readonly log?: Logger

  constructor (log?: Logger) {
    this.log = log?.child({ component: 'trust' })
  }

  /** A handshake verified `credential` for `peer`, on `connection` (kept until it closes). */
  record (peer: string, credential: PeerCredential, connection?: VerifiedConnection): void {
    // a handshake verified a valid certificate for it again (renewed, or reissued after revocation)
    this.dropped.delete(peer)
    this.byPeer.delete(peer)
    this.byPeer.set(peer, credential)
    if (this.byPeer.size > MAX_REMEMBERED) {
      const oldest = this.byPeer.keys().next().value
      if (oldest !== undefined) this.byPeer.delete(oldest)
    }
    if (connection != null) this.track(peer, credential, connection)
  }

  private track (peer: string, credential: PeerCredential, connection: VerifiedConnection): void {
    // one already closed fires no more 'close' event to untrack it
    if (connection.status === 'closed' || connection.status === 'aborted' || connection.status === 'reset') return
    let connections = this.open.get(peer)
    if (connections == null) {
      connections = new Map()
      this.open.set(peer, connections)
    }
    connections.set(connection, credential)
    this.byTimeline.set(connection.timeline, credential)
    connection.addEventListener('close', () => { this.untrack(peer, connection) }, { once: true })
  }

  private untrack (peer: string, connection: VerifiedConnection): void {
    const connections = this.open.get(peer)
    const credential = connections?.get(connection)
    if (connections == null || credential == null) return
    connections.delete(connection)
    this.byTimeline.delete(connection.timeline)
    if (connections.size === 0) {
      this.open.delete(peer)
      return
    }
    // the certificate speaking for the peer left with its connection (a CLI run with the node's client
    // certificate, say): the newest one still presented on an open connection speaks again
    const newest = this.newestOpen(peer)
    if (this.byPeer.get(peer) === credential && newest != null) this.byPeer.set(peer, newest)
  }

  /** The certificate of `peer`'s newest open connection. */
  private newestOpen (peer: string): PeerCredential | undefined {
    return [...this.open.get(peer)?.values() ?? []].at(-1)
  }

  /** The certificate `connection` presented, while it speaks for its peer (undefined once condemned, or never verified). */
  presented (connection: RequestConnection): PeerCredential | undefined {
    return this.byTimeline.get(connection.timeline)
  }

  /**
   * The certificate that speaks for `peer`: with `via` (the connection a request came on), the one
   * presented on that connection, so one key's narrower certificate (a CLI's) neither lends its roles
   * to nor borrows them from another connection; without, or for a connection not tracked, the peer's.
   */
  get (peer: string, via?: RequestConnection): PeerCredential | undefined {
    return (via?.timeline == null ? undefined : this.presented(via)) ?? this.byPeer.get(peer)
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
    const name = this.byPeer.get(peer)?.name ?? this.newestOpen(peer)?.name ?? this.dropped.get(peer)
    this.byPeer.delete(peer)
    this.dropped.delete(peer)
    this.dropped.set(peer, name)
    if (this.dropped.size > MAX_DROPPED) {
      const oldest = this.dropped.keys().next().value
      if (oldest !== undefined) this.dropped.delete(oldest)
    }
  }

  /**
   * Closes every open connection that presented a certificate `test` condemns (`why` says what is
   * wrong with it: "expired", "is revoked"). A peer whose remembered certificate is condemned keeps
   * the newest one still valid on an open connection, or is dropped (as `drop`) if none is left.
   * Peers only remembered (not connected) are judged too: gossip they wrote stays refused.
   * A condemned connection whose certificate `spare` accepts is untracked like the others but left
   * open, for the caller's own last message on it, until it calls the peer's `abortSpared`.
   */
  dropWhere (test: (credential: PeerCredential) => boolean, why = 'is no longer valid', spare?: (peer: string, credential: PeerCredential) => boolean): Condemned[] {
    const condemned: Condemned[] = []
    for (const peer of new Set([...this.byPeer.keys(), ...this.open.keys()])) {
      const remembered = this.byPeer.get(peer)
      const closing = [...this.open.get(peer) ?? []].filter(([, credential]) => test(credential))
      const rememberedCondemned = remembered != null && test(remembered)
      if (closing.length === 0 && !rememberedCondemned) continue
      const spared: Array<() => void> = []
      for (const [connection, credential] of closing) {
        this.untrack(peer, connection)
        const abort = (): void => { connection.abort(new ForbiddenError(`peer ${peer}'s certificate ${credential.serial} ${why}`)) }
        if (spare?.(peer, credential) === true) spared.push(abort)
        else abort()
      }
      // what is left open presented only valid certificates: the newest of them speaks for the peer
      const valid = this.newestOpen(peer)
      let dropped = false
      if (remembered == null || rememberedCondemned) {
        if (valid != null) this.byPeer.set(peer, valid)
        else {
          this.drop(peer)
          dropped = true
        }
      }
      const credential = rememberedCondemned ? remembered : closing[0]?.[1]
      if (credential != null) condemned.push({ peer, credential, closed: closing.length, dropped, ...(spared.length > 0 ? { abortSpared: () => { for (const abort of spared) abort() } } : {}) })
      else for (const abort of spared) abort()
    }
    return condemned
  }

  /** Whether `peer` was dropped for a revoked or expired certificate (and not verified again since). */
  wasDropped (peer: string): boolean {
    return this.dropped.has(peer)
  }

  /** The name `peer`'s certificate gives, also after it was dropped for it (for log lines). */
  nameOf (peer: string): string | undefined {
    return this.byPeer.get(peer)?.name ?? this.dropped.get(peer)
  }

  entries (): IterableIterator<[string, PeerCredential]> {
    return this.byPeer.entries()
  }

  has (peer: string, role: Role, via?: RequestConnection): boolean {
    return this.get(peer, via)?.roles.has(role) ?? false
  }

  hasAny (peer: string, roles: readonly Role[], via?: RequestConnection): boolean {
    const held = this.get(peer, via)?.roles
    return held != null && roles.some(r => held.has(r))
  }

  /**
   * Throws ForbiddenError unless `peer` holds one of `allowed` (on `via`, the connection the request
   * came on: see `get`); the refusal is logged once per peer and `what` (a protocol, or protocol and operation).
   */
  authorize (peer: string, allowed: readonly Role[], what: string, via?: RequestConnection): void {
    if (!this.hasAny(peer, allowed, via)) throw this.forbid(peer, what, allowed, via)
  }

  /** The (logged) ForbiddenError for `peer` doing `what`; `allowed` names the roles that would have let it. */
  forbid (peer: string, what: string, allowed: readonly Role[] = [], via?: RequestConnection): ForbiddenError {
    const credential = this.get(peer, via)
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
export type RoleCheck = Pick<PeerCredentials, 'has' | 'get' | 'wasDropped' | 'authorize' | 'forbid' | 'nameOf'>
