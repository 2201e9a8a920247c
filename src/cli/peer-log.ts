import type { Logger } from '../logger.ts'

/** Per peer, at most one line in this window; the rest are counted into the next. */
const WINDOW_MS = 60_000
/** Peers remembered; past this the least recently logged is forgotten (a redialling peer id costs one entry). */
const MAX_PEERS = 4096

type Kind = 'peer connected' | 'peer disconnected'

interface PeerLine {
  /** When its last line was logged (monotonic: a clock stepped back must not hold lines for as long). */
  at: number
  /** Wall time of the latest event, for a line written later. */
  lastEventAt: number
  /** Events since then, not logged. */
  held: number
  /** What the last event said: the state the peer is in now. */
  latest: Kind
  /** The line that says `latest` at the window's end, while events are held. */
  flush?: NodeJS.Timeout
  /** Its certificate's name, as last given (a disconnect after its certificate was dropped comes without). */
  name?: string
}

/**
 * `grid node`'s 'peer connected' / 'peer disconnected' info lines, at most one a minute per peer. A node
 * whose certificate the others refuse (revoked, expired) redials them without end, each connection closed
 * by the other side as it opens: it logged two lines per attempt, several a second for good. While events
 * are held, one line at the window's end says the state the peer is in then (and how many more there
 * were, `sinceLastLine`), so the last line about a peer is never a state it has left.
 */
export class PeerLog {
  private readonly log: Logger
  /** In the order of their last line, oldest first. */
  private readonly seen = new Map<string, PeerLine>()
  private readonly now: () => number

  constructor (log: Logger, now: () => number = () => performance.now()) {
    this.log = log
    this.now = now
  }

  /** `name`: the certificate's (subject CN), when the node verified one. */
  connected (peer: string, name?: string): void {
    this.event('peer connected', peer, name)
  }

  disconnected (peer: string, name?: string): void {
    this.event('peer disconnected', peer, name)
  }

  /** Drops the lines held for later (the node stops). */
  close (): void {
    for (const line of this.seen.values()) clearTimeout(line.flush)
    this.seen.clear()
  }

  private event (kind: Kind, peer: string, given?: string): void {
    const now = this.now()
    const line = this.seen.get(peer)
    const name = given ?? line?.name
    if (line != null && now - line.at < WINDOW_MS) {
      line.held++
      line.latest = kind
      line.lastEventAt = Date.now()
      line.name = name
      line.flush ??= setTimeout(() => { this.write(peer, line.latest, line.held, line.name, line.lastEventAt) }, Math.min(WINDOW_MS, line.at + WINDOW_MS - now)).unref()
      return
    }
    this.write(peer, kind, line?.held ?? 0, name)
  }

  /** `eventAt`: when the event the line gives happened, for one written at the window's end. */
  private write (peer: string, kind: Kind, held: number, name: string | undefined, eventAt?: number): void {
    const previous = this.seen.get(peer)
    clearTimeout(previous?.flush)
    this.seen.delete(peer)
    while (this.seen.size >= MAX_PEERS) {
      const [oldest, line] = this.seen.entries().next().value as [string, PeerLine]
      clearTimeout(line.flush)
      this.seen.delete(oldest)
    }
    this.seen.set(peer, { at: this.now(), lastEventAt: Date.now(), held: 0, latest: kind, name })
    const named = name == null ? { peer } : { peer, name }
    this.log.info(held > 0 ? { ...named, sinceLastLine: held, ...(eventAt == null ? {} : { eventAt: new Date(eventAt).toISOString() }) } : named, kind)
  }
}
