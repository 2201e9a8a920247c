import { RateLimitedError } from '../errors.ts'

/** What a peer refused for the messages it has in flight is told to wait: those must be read first. */
export const READ_RETRY_MS = 1000

/** The budget of one peer, as a JsonStream charges it (JsonStreamOptions.budget). */
export interface PeerReadBudget {
  /** Room for a message of `bytes` being read (its release), or RateLimitedError. */
  take: (bytes: number) => () => void
}

/**
 * Bytes of request messages being read at once, per peer and in all, charged from a message's length prefix
 * (before its body is buffered) until it is parsed. For request protocols whose messages can be large (a task's
 * input: 8 MiB): a peer may hold 64 streams on each of 8 connections, and each was read in full, in parallel,
 * however many the peer opened, so one certificate could make the node buffer gigabytes before any role or
 * budget check looked at a request.
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

  private take (peer: string, bytes: number): () => void {
    const before = this.held.get(peer) ?? 0
    if (before + bytes > this.maxPerPeer || this.total + bytes > this.maxTotal) throw new RateLimitedError(READ_RETRY_MS)
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
