/**
 * Lifeguard's local health, measured as this node's own event-loop lateness:
 * each tick that fires late raises the score, each punctual one lowers it
 * slowly. The failure detector multiplies its timeouts by `multiplier()`, so
 * an overloaded node waits longer before it blames others for its own delay.
 */
export class LocalHealth {
  private readonly tickMs: number
  private readonly maxScore: number
  private score = 0

  constructor (tickMs: number, maxScore = 8) {
    this.tickMs = tickMs
    this.maxScore = maxScore
  }

  /** Record one tick that came `elapsedMs` after the previous one. */
  observe (elapsedMs: number): void {
    const lateMs = elapsedMs - this.tickMs
    if (lateMs > Math.max(50, this.tickMs / 2)) this.score = Math.min(this.maxScore, this.score + 1)
    else this.score = Math.max(0, this.score - 0.125)
  }

  multiplier (): number {
    return 1 + this.score
  }
}
