export interface StatusBudgetInit {
  /** Rows a peer's budget regains per second (default 10,000: a few MB of JSON a second). */
  rowsPerSecond?: number
  /** The most a budget holds, so a peer that was quiet may ask a few times at once (default 100,000 rows). */
  burstRows?: number
  /** The least a request costs, however small the table (default 100 rows). */
  minRows?: number
  /** Peers tracked at most; the least recently seen is forgotten first (default 4096). */
  maxPeers?: number
}

/**
 * What status requests one peer may cost the node: each answer costs the rows it
 * serialises (every request forces a full-table JSON.stringify), paid from a
 * per-peer budget that refills at `rowsPerSecond`. A peer may ask while its
 * budget is above zero; the answer may take it below, and it is refused until
 * the refill has paid that back. So a small grid's status is as cheap to poll as
 * ever, while one peer cannot make a 65,536-member node serialise its table in a
 * loop.
 */
export class StatusBudget {
  private readonly rowsPerSecond: number
  private readonly burstRows: number
  private readonly minRows: number
  private readonly maxPeers: number
  private readonly peers = new Map<string, { rows: number, at: number }>()

  constructor (init: StatusBudgetInit = {}) {
    this.rowsPerSecond = init.rowsPerSecond ?? 10_000
    this.burstRows = init.burstRows ?? 100_000
    this.minRows = init.minRows ?? 100
    this.maxPeers = init.maxPeers ?? 4096
  }

  /** 0 when `peer` may ask now, else the ms until it may. */
  waitMs (peer: string, now = performance.now()): number {
    const rows = this.current(peer, now)
    return rows > 0 ? 0 : Math.ceil((1 - rows) * 1000 / this.rowsPerSecond)
  }

  /** Charges an answer of `rows` rows to `peer`. */
  charge (peer: string, rows: number, now = performance.now()): void {
    const left = this.current(peer, now) - Math.max(rows, this.minRows)
    this.peers.delete(peer)
    this.peers.set(peer, { rows: left, at: now })
    while (this.peers.size > this.maxPeers) this.peers.delete(this.peers.keys().next().value!)
  }

  private current (peer: string, now: number): number {
    const entry = this.peers.get(peer)
    if (entry == null) return this.burstRows
    return Math.min(this.burstRows, entry.rows + (now - entry.at) * this.rowsPerSecond / 1000)
  }
}
