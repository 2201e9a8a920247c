import type { Logger } from '../logger.ts'
import { PeerBudget } from '../transport/peer-budget.ts'

/** Lines at once: a grid's whole join (or a healed partition) logs every member. */
export const EVENT_LINES_BURST = 512
/** Lines a second after a burst. */
export const EVENT_LINES_PER_SECOND = 32

/**
 * The info lines of member events (`member:join`, `member:fail`, …), bounded: a member can
 * mint members (heartbeats signed by fresh keys, a sync listing thousands), each an event
 * here, and the log must not grow with them. Past the budget, lines are counted and the
 * count is said in the next line that goes out. The events themselves are never held back.
 */
export class MemberEventLog {
  private readonly log: Logger
  private readonly budget = new PeerBudget({ perSecond: EVENT_LINES_PER_SECOND, burst: EVENT_LINES_BURST, maxPeers: 1 })
  private heldBack = 0

  constructor (log: Logger) {
    this.log = log
  }

  info (fields: Record<string, unknown>, message: string, now = performance.now()): void {
    if (this.budget.waitMs('', now) > 0) {
      this.heldBack++
      return
    }
    this.budget.charge('', 1, now)
    if (this.heldBack > 0) {
      this.log.info({ heldBack: this.heldBack }, `held back ${this.heldBack} member event lines (more than ${EVENT_LINES_PER_SECOND} a second after ${EVENT_LINES_BURST} at once)`)
      this.heldBack = 0
    }
    this.log.info(fields, message)
  }
}
