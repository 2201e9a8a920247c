/** How long an agent this owner could not dial is tried last. */
export const UNREACHABLE_FOR_MS = 30_000
/** Agents remembered at most (the oldest forgotten first): membership bounds them already, this bounds the map. */
const MAX_REMEMBERED = 4096

/**
 * Agents this owner could not dial lately. Placement tries them last for a while: one that the rest of
 * the grid still reaches (a one-way partition, a firewall between two hosts) stays alive in membership,
 * and ranked first by its load it would make every placement wait for its dial to fail first.
 */
export class UnreachableAgents {
  private readonly until = new Map<string, number>()
  private readonly forMs: number

  constructor (forMs = UNREACHABLE_FOR_MS) {
    this.forMs = forMs
  }

  failed (agentId: string, nowMs: number): void {
    this.until.delete(agentId)
    this.until.set(agentId, nowMs + this.forMs)
    if (this.until.size > MAX_REMEMBERED) this.until.delete(this.until.keys().next().value!)
  }

  reached (agentId: string): void {
    this.until.delete(agentId)
  }

  /** `ranked` with the agents not reached lately moved to the end, each group in its order. */
  order<T extends { id: string }> (ranked: T[], nowMs: number): T[] {
    for (const [id, until] of this.until) if (until <= nowMs) this.until.delete(id)
    if (this.until.size === 0) return ranked
    return [...ranked.filter(a => !this.until.has(a.id)), ...ranked.filter(a => this.until.has(a.id))]
  }
}
