import type { Logger } from '../../logger.ts'

/** A refusal is logged once per remote host and reason in this window; the rest are counted. */
const WINDOW_MS = 60_000
/** Hosts and reasons remembered; past this the least recently logged is forgotten. */
export const MAX_KEYS = 4096
/** Lines in one window from all hosts together: many source addresses (an IPv6 prefix holds plenty) must not flood the log either. */
export const MAX_LINES_PER_WINDOW = 100

/**
 * Refusal warnings, rate-limited: a peer that keeps redialling with a revoked,
 * expired or foreign certificate gets one warn line a minute (with how many
 * more were refused since), not one per attempt; and all hosts together get
 * at most MAX_LINES_PER_WINDOW lines a minute, the rest summed up in one line.
 * Rejections logs dropped peer messages through it the same way.
 */
export class RefusalLog {
  private readonly log: Logger
  /** In the order of their last line, oldest first (an entry is re-inserted when it logs). */
  private readonly seen = new Map<string, { at: number, suppressed: number }>()
  private windowStart = -Infinity
  private linesInWindow = 0
  private heldBack = 0

  constructor (log: Logger) {
    this.log = log
  }

  warn (host: string, reason: string, fields: Record<string, unknown>, message: string, now = Date.now()): void {
    const key = `${host} ${reason}`
    const entry = this.seen.get(key)
    if (entry != null && now - entry.at < WINDOW_MS) {
      entry.suppressed++
      return
    }
    this.rollWindow(now)
    this.seen.delete(key)
    // forget the least recently logged, never the hosts refused just now
    while (this.seen.size >= MAX_KEYS) {
      const oldest = this.seen.keys().next().value as string
      this.seen.delete(oldest)
    }
    if (this.linesInWindow >= MAX_LINES_PER_WINDOW) {
      // remembered, so this host stays quiet for the window; counted in the summary instead
      this.seen.set(key, { at: now, suppressed: 0 })
      this.heldBack++
      return
    }
    this.linesInWindow++
    this.seen.set(key, { at: now, suppressed: 0 })
    const suppressed = entry?.suppressed ?? 0
    this.log.warn(suppressed > 0 ? { ...fields, refusedSinceLastLine: suppressed } : fields, message)
  }

  private rollWindow (now: number): void {
    if (now - this.windowStart < WINDOW_MS) return
    if (this.heldBack > 0) {
      const since = new Date(this.windowStart).toISOString()
      this.log.warn({ heldBack: this.heldBack, since, maxLines: MAX_LINES_PER_WINDOW }, `held back ${this.heldBack} more warnings like the ones above in the minute from ${since} (at most ${MAX_LINES_PER_WINDOW} lines a minute)`)
    }
    this.windowStart = now
    this.linesInWindow = 0
    this.heldBack = 0
  }
}

/** The host part of a multiaddr-ish remote address (`/ip4/1.2.3.4/tcp/5678` → `/ip4/1.2.3.4`). */
export function remoteHost (remote: string): string {
  const at = remote.indexOf('/tcp/')
  return at > 0 ? remote.slice(0, at) : remote
}
