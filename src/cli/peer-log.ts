import type { Logger } from '../logger.ts'

/** Per peer and kind (connected, disconnected), at most one line in this window; the rest are counted into the next. */
const WINDOW_MS = 60_000
/** Peers remembered; past this the least recently logged is forgotten (a redialling peer id costs one entry). */
const MAX_PEERS = 4096

type Kind = 'peer connected' | 'peer disconnected'

/**
 * `grid node`'s 'peer connected' / 'peer disconnected' info lines, at most one a minute per peer and
 * kind. A node whose certificate the others refuse (revoked, expired) redials them without end, each
 * connection closed by the other side as it opens: it logged two lines per attempt, several a second
 * for good. The next line says how many more there were (`sinceLastLine`).
 */
export class PeerLog {
  private readonly log: Logger
  /** In the order of their last line, oldest first. */
  private readonly seen = new Map<string, { at: number, held: number }>()

  constructor (log: Logger) {
    this.log = log
  }

  connected (peer: string, now = Date.now()): void {
    this.line('peer connected', peer, now)
  }

  disconnected (peer: string, now = Date.now()): void {
    this.line('peer disconnected', peer, now)
  }

  private line (kind: Kind, peer: string, now: number): void {
    const key = `${kind} ${peer}`
    const entry = this.seen.get(key)
    if (entry != null && now - entry.at < WINDOW_MS) {
      entry.held++
      return
    }
    this.seen.delete(key)
    while (this.seen.size >= MAX_PEERS) this.seen.delete(this.seen.keys().next().value as string)
    this.seen.set(key, { at: now, held: 0 })
    const held = entry?.held ?? 0
    this.log.info(held > 0 ? { peer, sinceLastLine: held } : { peer }, kind)
  }
}
