import type { Logger } from '../logger.ts'
import { ProtocolError } from '../errors.ts'

/** One line of the rejected-message counter (`gridd_rejected_messages_total{protocol,reason}`). */
export interface RejectedCount {
  protocol: string
  reason: string
  count: number
}

/**
 * The counter's reason for a request stream that failed: `malformed` (too large, not JSON, off-schema),
 * `truncated` (the stream ended inside a message), `timeout` (the peer did not finish its request within
 * the read deadline: a stalled stream), else `failed` (a reset, or the handler's own failure).
 */
export function streamFailure (err: unknown): string {
  if (err instanceof ProtocolError) return 'malformed'
  const name = (err as Error | undefined)?.name
  if (name === 'UnexpectedEOFError') return 'truncated'
  if (name === 'InvalidDataLengthLengthError' || name === 'InvalidMessageLengthError') return 'malformed'
  return name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'failed'
}

const LOG_EVERY_MS = 60_000
/** Bounds the log limiter's memory: a flood of fresh peer ids cannot grow it without end. */
const MAX_LOG_KEYS = 4096

/**
 * Bad messages from peers: each is counted by protocol and reason, and logged
 * at most once a minute per peer, protocol and reason, so a hostile member
 * cannot flood the log (nor crash the node: callers drop the message).
 */
export class Rejections {
  private readonly log: Logger
  private readonly counts = new Map<string, RejectedCount>()
  private readonly lastLogged = new Map<string, number>()

  constructor (log: Logger) {
    this.log = log
  }

  /**
   * Counts a dropped message under `reason` (a short, fixed word: the metric's label); logs
   * `msg` with `detail` (what exactly was wrong) unless this peer was logged for it within the minute.
   */
  reject (protocol: string, reason: string, peer: string | undefined, msg: string, detail: string = reason, fields: Record<string, unknown> = {}): void {
    const key = `${protocol}\0${reason}`
    const row = this.counts.get(key) ?? { protocol, reason, count: 0 }
    row.count++
    this.counts.set(key, row)
    const now = performance.now()
    const logKey = `${key}\0${peer ?? ''}`
    const last = this.lastLogged.get(logKey)
    if (last != null && now - last < LOG_EVERY_MS) return
    if (this.lastLogged.size >= MAX_LOG_KEYS) this.prune(now)
    this.lastLogged.set(logKey, now)
    this.log.warn({ from: peer, protocol, rejected: reason, reason: detail, ...fields }, msg)
  }

  /** The counters, for stats and metrics. */
  counters (): RejectedCount[] {
    return [...this.counts.values()].map(row => ({ ...row }))
  }

  private prune (now: number): void {
    for (const [key, at] of this.lastLogged) if (now - at >= LOG_EVERY_MS) this.lastLogged.delete(key)
    // all recent: forget the oldest rather than grow
    while (this.lastLogged.size >= MAX_LOG_KEYS) this.lastLogged.delete(this.lastLogged.keys().next().value!)
  }
}
