import type { Logger } from '../logger.ts'
import { ProtocolError } from '../errors.ts'
import { RefusalLog } from './mtls/refusal-log.ts'

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

/**
 * Bad messages from peers: each is counted by protocol and reason, and logged
 * at most once a minute per peer, protocol and reason, so a hostile member
 * cannot flood the log (nor crash the node: callers drop the message). The
 * peer is often an author id the message names, which a member can mint at
 * will (gossip is signed by any key): so all peers together get at most
 * MAX_LINES_PER_WINDOW lines a minute too (RefusalLog).
 */
export class Rejections {
  private readonly lines: RefusalLog
  private readonly counts = new Map<string, RejectedCount>()

  constructor (log: Logger) {
    this.lines = new RefusalLog(log)
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
    this.lines.warn(peer ?? '', key, { from: peer, protocol, rejected: reason, reason: detail, ...fields }, msg)
  }

  /** The counters, for stats and metrics. */
  counters (): RejectedCount[] {
    return [...this.counts.values()].map(row => ({ ...row }))
  }
}
