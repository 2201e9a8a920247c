import type { Logger } from '../logger.ts'
import type { WireError } from '../wire/wire-error.ts'

/** Per stage and kind, at most one line in this window; the rest are counted into the next. */
const WINDOW_MS = 60_000
/** A worker's error message in the line's text is cut here (the whole one is under `error`). */
const MESSAGE_CHARS = 200

/**
 * The owner's log of a run's troubles: items that failed for good and workers lost. They were only
 * events and counters (`item:failed`, `gridd_items_failed_total`), so the owner's log said nothing of a
 * stage failing every item. One warn line at once, then at most one a minute per stage and kind, saying
 * how many more there were: a stage failing thousands of items must not flood the log either.
 */
export class TroubleLog {
  private readonly log: Logger
  /** Keyed by kind and stage: bounded by the run's stages. */
  private readonly last = new Map<string, { at: number, since: number }>()

  constructor (log: Logger) {
    this.log = log
  }

  itemFailed (stage: string, attempts: number, error: WireError, now = Date.now()): void {
    const text = `${error.name}: ${error.message}`.slice(0, MESSAGE_CHARS)
    this.line(`failed ${stage}`, now, { stage, attempts, error: { name: error.name, message: error.message.slice(0, 1024), code: error.code } },
      more => `stage "${stage}": an item failed for good (${text})${more}`)
  }

  workerLost (stage: string, worker: string, agent: string, detail: string, now = Date.now()): void {
    this.line(`lost ${stage}`, now, { stage, worker, agent, detail },
      more => `stage "${stage}": worker lost on agent ${agent} (${detail.slice(0, MESSAGE_CHARS)}); its items run again${more}`)
  }

  private line (key: string, now: number, fields: Record<string, unknown>, message: (more: string) => string): void {
    const entry = this.last.get(key)
    if (entry != null && now - entry.at < WINDOW_MS) {
      entry.since++
      return
    }
    const since = entry?.since ?? 0
    this.last.set(key, { at: now, since: 0 })
    this.log.warn(since > 0 ? { ...fields, sinceLastLine: since } : fields, message(since > 0 ? `; ${since} more since the last such line` : ''))
  }
}
