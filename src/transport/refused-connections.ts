import { REFUSAL } from './mtls/verify.ts'

export type RefusalDirection = 'inbound' | 'outbound'

export interface RefusedCount { direction: RefusalDirection, reason: string, count: number }

const REASONS = new Set<string>(Object.values(REFUSAL))

/**
 * Every connection this node refused at the handshake, by direction and reason
 * (`gridd_refused_connections_total`). The log says so once a minute per host and
 * reason; this counts each one, so an operator can alert on a revoked member that
 * keeps redialling, or on a scanner. Reasons are REFUSAL's (a bounded label set):
 * anything else counts as handshake-failed.
 */
export class RefusedConnections {
  private readonly counts = new Map<string, RefusedCount>()

  count (direction: RefusalDirection, reason: string): void {
    const known = REASONS.has(reason) ? reason : REFUSAL.handshakeFailed
    const key = `${direction} ${known}`
    const row = this.counts.get(key)
    if (row == null) this.counts.set(key, { direction, reason: known, count: 1 })
    else row.count++
  }

  counters (): RefusedCount[] {
    return [...this.counts.values()].map(row => ({ ...row }))
  }
}
