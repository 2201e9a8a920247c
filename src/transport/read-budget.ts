import { RateLimitedError } from '../errors.ts'
import type { Rejections } from './rejections.ts'

/** What a peer refused for the messages it has in flight is told to wait: those must be read first. */
export const READ_RETRY_MS = 1000

/** The budget of one peer, as a JsonStream charges it (JsonStreamOptions.budget). */
export interface PeerReadBudget {
  /** Room for a message of `bytes` being read (its release), or RateLimitedError. */
  take: (bytes: number) => () => void
}

/** Messages this small are never refused (a kill, a list, a status): what a peer's streams can hold of them is bounded by its stream limits. */
export const UNCHARGED_BYTES = 64 * 1024

/**
 * Bytes of request messages being read at once, per peer and in all, charged from a message's length prefix
 * (before its body is buffered) until it is parsed. For request protocols whose messages can be large (a task's
 * input: 8 MiB): a peer may hold 64 streams on each of 8 connections, and each was read in full, in parallel,
 * however many the peer opened, so one certificate could make the node buffer gigabytes before any role or
 * budget check looked at a request.
 *
 * The charge is what a prefix announces, held until the read ends (its deadline at the latest), so a few peers
 * that announce large messages and send nothing could fill the total for everyone else. Two exemptions keep
 * that from locking honest peers out: a message up to UNCHARGED_BYTES is never refused, and a peer that holds
 * nothing may always start one message (the total then bounds what is read beyond one message per peer).
 */
export class ReadBudget {
  private readonly held = new Map<string, number>()
  private total = 0
  private readonly maxPerPeer: number
  private readonly maxTotal: number

  constructor (maxPerPeer: number, maxTotal: number) {
    this.maxPerPeer = maxPerPeer
    this.maxTotal = maxTotal
  }

  /** `peer`'s budget, for the JsonStream reading its request. */
  of (peer: string): PeerReadBudget {
    return { take: bytes => this.take(peer, bytes) }
  }

  /** Bytes `peer` has in messages being read now. */
  heldBy (peer: string): number {
    return this.held.get(peer) ?? 0
  }

  /** Counts (`rate-limited`) and logs, rate-limited, a request of `peer`'s this budget refused: "refused `what`: …". */
  refused (rejections: Pick<Rejections, 'reject'>, protocol: string, peer: string, what: string, fields?: Record<string, unknown>): void {
    rejections.reject(protocol, 'rate-limited', peer, `refused ${what}: this peer has too many being read`, `${this.heldBy(peer)} bytes being read`, fields)
  }

  private take (peer: string, bytes: number): () => void {
    if (bytes <= UNCHARGED_BYTES) return () => {}
    const before = this.held.get(peer) ?? 0
    if (before + bytes > this.maxPerPeer || (before > 0 && this.total + bytes > this.maxTotal)) throw new RateLimitedError(READ_RETRY_MS)
    this.held.set(peer, before + bytes)
    this.total += bytes
    let released = false
    return () => {
      if (released) return
      released = true
      this.total -= bytes
      const left = (this.held.get(peer) ?? bytes) - bytes
      if (left <= 0) this.held.delete(peer)
      else this.held.set(peer, left)
    }
  }
}

/**
 * For a protocol of small requests (at most `messageBytes`: JsonStream's 1 MiB) that clients may open on many
 * streams: eight of the largest per peer being read at once, 32 in all.
 */
export function smallRequestsBudget (messageBytes: number): ReadBudget {
  return new ReadBudget(8 * messageBytes, 32 * messageBytes)
}
