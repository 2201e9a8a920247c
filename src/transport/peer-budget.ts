export interface PeerBudgetInit {
  /** What a peer's budget regains per second. */
  perSecond: number
  /** The most a budget holds, so a peer that was quiet may ask a few times at once. */
  burst: number
  /** The least a request costs. Default 1. */
  minCost?: number
  /** Peers tracked at most; the least recently seen is forgotten first (default 4096). */
  maxPeers?: number
}

/**
 * What one peer's requests may cost this node (a token bucket per peer): each
 * request costs what it makes the node do, paid from a budget that refills at
 * `perSecond` up to `burst`. A peer may ask while its budget holds at least
 * `minCost`; the answer may take it below zero, and it is refused until the
 * refill has paid that back. Used for status answers (rows serialised) and for
 * channels opened for client reads.
 */
export class PeerBudget {
  private readonly perSecond: number
  private readonly burst: number
  private readonly minCost: number
  private readonly maxPeers: number
  private readonly peers = new Map<string, { left: number, at: number }>()

  constructor (init: PeerBudgetInit) {
    this.perSecond = init.perSecond
    this.burst = init.burst
    this.minCost = init.minCost ?? 1
    this.maxPeers = init.maxPeers ?? 4096
  }

  /** 0 when `peer` may ask now, else the ms until it may. */
  waitMs (peer: string, now = performance.now()): number {
    const left = this.current(peer, now)
    return left >= this.minCost ? 0 : Math.ceil((this.minCost - left) * 1000 / this.perSecond)
  }

  /** Charges `cost` to `peer`. */
  charge (peer: string, cost: number, now = performance.now()): void {
    const left = this.current(peer, now) - Math.max(cost, this.minCost)
    this.peers.delete(peer)
    this.peers.set(peer, { left, at: now })
    while (this.peers.size > this.maxPeers) this.peers.delete(this.peers.keys().next().value!)
  }

  private current (peer: string, now: number): number {
    const entry = this.peers.get(peer)
    if (entry == null) return this.burst
    return Math.min(this.burst, entry.left + (now - entry.at) * this.perSecond / 1000)
  }
}
