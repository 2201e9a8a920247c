import type { Logger } from '../../logger.ts'

/** A refusal is logged once per remote host and reason in this window; the rest are counted. */
const WINDOW_MS = 60_000
const MAX_KEYS = 4096

/**
 * Refusal warnings, rate-limited: a peer that keeps redialling with a revoked,
 * expired or foreign certificate gets one warn line a minute (with how many
 * more were refused since), not one per attempt.
 */
export class RefusalLog {
  private readonly log: Logger
  private readonly seen = new Map<string, { at: number, suppressed: number }>()

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
    if (this.seen.size >= MAX_KEYS) this.seen.clear()
    this.seen.set(key, { at: now, suppressed: 0 })
    const suppressed = entry?.suppressed ?? 0
    this.log.warn(suppressed > 0 ? { ...fields, refusedSinceLastLine: suppressed } : fields, message)
  }
}

/** The host part of a multiaddr-ish remote address (`/ip4/1.2.3.4/tcp/5678` → `/ip4/1.2.3.4`). */
export function remoteHost (remote: string): string {
  const at = remote.indexOf('/tcp/')
  return at > 0 ? remote.slice(0, at) : remote
}
