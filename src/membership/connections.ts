import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import type { Member, MemberEvent } from './member.ts'
import type { MembershipLibp2p } from './components.ts'
import { ReconnectSchedule } from './reconnect.ts'

const DIAL_TIMEOUT_MS = 2000
/** Dials to learned members in flight at once (a sync can list thousands); watched members and redials are not held back. */
export const MAX_MEMBER_DIALS = 16

export interface MemberConnectionsInit {
  heartbeatMs: number
  maxMeshPeers: number
  reconnectForMs: number
  reconnectMaxBackoffMs: number
}

export interface MemberConnectionsHooks {
  /** The member's current row, for its addresses and state. */
  lookup: (id: string) => Member | undefined
  /** A dial was refused: nobody listens where the member was. */
  refused: (id: string) => void
  /** A dial failed otherwise (timed out, handshake broken). */
  unanswered: (id: string) => void
}

/**
 * Membership's connections: one dial path (`dial`) used by every reason to
 * connect — a member learned by sync, mesh repair, the redial after a last
 * connection closed, and the reconnect loop for failed members, which
 * outlasts libp2p's own (~30 s). libp2p has no autodialer: nothing else
 * connects members.
 */
export class MemberConnections {
  private readonly libp2p: MembershipLibp2p
  private readonly log: Logger
  private readonly init: MemberConnectionsInit
  private readonly hooks: MemberConnectionsHooks
  private readonly reconnects: ReconnectSchedule
  private readonly dialing = new Set<string>()
  /** When a disconnect last made us redial each member (one redial a heartbeat at most). */
  private readonly redialedAt = new Map<string, number>()
  /** When each member was last seen joining or rejoining, for mesh repair. */
  private readonly aliveSince = new Map<string, number>()
  private lastRepair = 0
  /** The members this node watches: kept connected beyond the mesh cap, so their silence is theirs. */
  private watched = new Set<string>()
  private abort = new AbortController()
  private running = false

  constructor (libp2p: MembershipLibp2p, log: Logger, init: MemberConnectionsInit, hooks: MemberConnectionsHooks) {
    this.libp2p = libp2p
    this.log = log
    this.init = init
    this.hooks = hooks
    this.reconnects = new ReconnectSchedule({ firstMs: init.heartbeatMs / 2, maxMs: init.reconnectMaxBackoffMs, forMs: init.reconnectForMs })
  }

  start (): void {
    this.running = true
    this.abort = new AbortController()
    this.watched = new Set()
    this.libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
  }

  /** Stops dialling: dials in flight are aborted, so nothing outlives the node. */
  stop (): void {
    this.running = false
    this.abort.abort()
    this.libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
  }

  /**
   * Tells libp2p where a member listens, from the member table, unless a connection is open:
   * gossip can teach a member before any connection to it exists, and a protocol dial by peer
   * id needs addresses.
   */
  async teachAddresses (id: string): Promise<void> {
    const peer = peerIdFromString(id)
    if (this.libp2p.getConnections(peer).length > 0) return
    await this.remember(peer, this.hooks.lookup(id)?.addresses ?? [])
  }

  /** Bookkeeping for a member event: failed members are redialled with backoff, others not. */
  observe (event: MemberEvent, now: number): void {
    const { id } = event.member
    if (event.type === 'member:fail') {
      // not alive: mesh repair has nothing to time (and a row only others told us of is already gone)
      this.aliveSince.delete(id)
      this.reconnects.add(id, now)
      // drop any half-dead connection so the reconnect loop dials afresh
      const peer = this.peer(id)
      if (peer != null) void this.libp2p.hangUp(peer).catch(() => {})
    } else if (event.type === 'member:join' || event.type === 'member:rejoin') {
      this.reconnects.remove(id)
      this.aliveSince.set(id, now)
    } else if (event.type === 'member:leave') {
      this.reconnects.remove(id)
      this.aliveSince.delete(id)
    }
  }

  /** A member left the table for good. */
  forget (id: string): void {
    this.reconnects.remove(id)
    this.aliveSince.delete(id)
  }

  /** Periodic: redial failed members that are due, and repair the mesh every two heartbeats. */
  tick (now: number, members: Member[]): void {
    for (const id of this.reconnects.due(now)) {
      const member = this.hooks.lookup(id)
      if (member?.state === 'failed') void this.dial(member)
      else this.reconnects.remove(id)
    }
    if (now - this.lastRepair < this.init.heartbeatMs * 2) return
    this.lastRepair = now
    // members still unconnected two heartbeats after they appeared: joiners dial what they
    // learn by sync at once; waiting here instead of dialling on every join event keeps
    // both sides of a pair from dialling each other (one connection per pair, not two)
    for (const member of members) {
      if (member.state === 'alive' && now - (this.aliveSince.get(member.id) ?? 0) >= this.init.heartbeatMs * 2) this.connect(member)
    }
  }

  /**
   * The members this node watches (MonitorRing's targets), every period. One newly watched that it has no
   * connection to (beyond the mesh cap, or a joiner that has not dialled it) is dialled now, not at the next
   * mesh repair: its beat line needs one. Only then: one still unconnected is left to the mesh repair, which
   * waits two heartbeats after it appeared (so the two sides of a pair do not dial each other) and dials an
   * unreachable one every two heartbeats, not every period.
   */
  watch (ids: string[]): void {
    const before = this.watched
    this.watched = new Set(ids)
    for (const id of ids) {
      if (before.has(id)) continue
      const member = this.hooks.lookup(id)
      if (member?.state === 'alive') this.connect(member)
    }
  }

  /** Connect to alive members we have no connection to (after a sync taught us of them). */
  connectAll (members: Member[]): void {
    for (const member of members) if (member.state === 'alive') this.connect(member)
  }

  private connect (member: Member): void {
    if (!this.running || this.dialing.has(member.id)) return
    const peer = this.peer(member.id)
    if (peer == null || this.libp2p.getConnections(peer).length > 0) return
    // dials in flight count as connections: a sync listing a thousand members starts no thousand dials
    if (!this.watched.has(member.id) && (this.dialing.size >= MAX_MEMBER_DIALS || this.libp2p.getPeers().length + this.dialing.size >= this.init.maxMeshPeers)) return
    void this.dial(member)
  }

  /**
   * The one dial path. Refused: the process is gone, the member fails now.
   * Anything else (a timeout: paused or partitioned; a handshake broken by a
   * dying socket) is left to the failure detector and the next reason to dial.
   */
  private async dial (member: Member): Promise<void> {
    const { id } = member
    if (!this.running || this.dialing.has(id)) return
    this.dialing.add(id)
    try {
      const peer = peerIdFromString(id)
      await this.remember(peer, member.addresses)
      await this.libp2p.dial(peer, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) })
    } catch (err) {
      if (!this.running) return
      if (isRefusal(err)) this.hooks.refused(id)
      else {
        this.log.debug({ member: id, err }, 'dial failed')
        this.hooks.unanswered(id)
      }
    } finally {
      this.dialing.delete(id)
    }
  }

  /** The id as a PeerId; the schema lets only real ones in, but this runs in timers: never throw there. */
  private peer (id: string): PeerId | undefined {
    try {
      return peerIdFromString(id)
    } catch (err) {
      this.log.warn({ member: id, err }, 'not a peer id: not dialled')
      return undefined
    }
  }

  private async remember (peer: PeerId, addresses: string[]): Promise<void> {
    if (addresses.length > 0) await this.libp2p.peerStore.merge(peer, { multiaddrs: addresses.map(a => multiaddr(a)) })
  }

  /**
   * The last connection to a live member closed: redial once; a refusal means nobody listens there any more.
   * At most once a heartbeat per member: a peer that accepts the TLS handshake and then drops us (it
   * revoked our certificate, or it expired) would otherwise be redialled in a tight loop.
   */
  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    const member = this.hooks.lookup(id)
    if (member == null || (member.state !== 'alive' && member.state !== 'suspect')) return
    const now = performance.now()
    if (now - (this.redialedAt.get(id) ?? -Infinity) < this.init.heartbeatMs) return
    this.redialedAt.set(id, now)
    // bounded: entries older than a heartbeat are of no use
    if (this.redialedAt.size > 4096) for (const [key, at] of this.redialedAt) if (now - at >= this.init.heartbeatMs) this.redialedAt.delete(key)
    void this.dial(member)
  }
}

/**
 * Whether a dial was refused: nobody listens at the member's address any more. Only ECONNREFUSED
 * says so (a reset is a connection that was accepted). libp2p tries each address and throws an
 * AggregateError when all failed: refused only if every address refused; one refused loopback
 * address beside a LAN address that timed out is no verdict on the member.
 */
export function isRefusal (err: unknown, depth = 0): boolean {
  if (err == null || typeof err !== 'object' || depth > 8) return false
  const { code, message, cause, errors } = err as { code?: unknown, message?: unknown, cause?: unknown, errors?: unknown }
  if (Array.isArray(errors) && errors.length > 0) return errors.every(e => isRefusal(e, depth + 1))
  if (code === 'ECONNREFUSED' || (typeof message === 'string' && message.includes('ECONNREFUSED'))) return true
  return isRefusal(cause, depth + 1)
}
