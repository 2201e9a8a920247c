import { MAX_TASK_LOG_LINES_PER_SECOND } from '../wire/task-log.ts'

/**
 * One task's `ctx.log` budget: at most `perSecond` lines in each one-second
 * window; the lines over it are dropped, and the first line let through
 * afterwards is preceded by one saying how many were.
 */
export class LogRate {
  private readonly perSecond: number
  private windowStart = 0
  private sent = 0
  private dropped = 0

  constructor (perSecond = MAX_TASK_LOG_LINES_PER_SECOND) {
    this.perSecond = perSecond
  }

  /** The lines to send now for one logged line: none (over budget), the line, or a drop notice and the line. */
  admit (line: string, now = Date.now()): string[] {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now
      this.sent = 0
    }
    if (this.sent >= this.perSecond) {
      this.dropped++
      return []
    }
    this.sent++
    if (this.dropped === 0) return [line]
    const notice = `[gridd: ${this.dropped} log line(s) dropped: more than ${this.perSecond} a second]`
    this.dropped = 0
    return [notice, line]
  }
}
