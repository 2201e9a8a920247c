import type { ChannelReplica } from './channel.ts'

/**
 * A settled pair, as one exchange with it left a peer's digests apart: our
 * digest as our delta left it and the peer's once it took the delta up (its
 * closing message). Two replicas can stay apart for good when one refuses
 * writes the other holds (a writer whose certificate one of them dropped, a
 * value over one's limit, a channel at one's cap); every anti-entropy round
 * then shipped the whole channel again and logged the same refusals. While neither digest has changed, the same
 * exchange would move nothing: it is skipped, the peer confirming its digest
 * is the one we know (`known` in the ask), and redone at most every
 * RECHECK_MS, so a change of what is refused (a writer verified again) heals.
 */
export const SETTLED_RECHECK_MS = 5 * 60_000
/** Peers remembered per channel (the oldest forgotten first): a grid is at most this many exchanges from doing them all again. */
const MAX_PEERS = 1024

interface Pair { mine: string, theirs: string, at: number }

export class SettledPairs {
  private readonly byChannel = new WeakMap<ChannelReplica, Map<string, Pair>>()
  private readonly now: () => number

  constructor (now: () => number = () => performance.now()) {
    this.now = now
  }

  /** The peer's digest to send as `known`: remembered, ours unchanged since, and not due for a recheck. */
  known (channel: ChannelReplica, peer: string, mine: string): string | undefined {
    const pair = this.byChannel.get(channel)?.get(peer)
    if (pair == null || pair.mine !== mine || this.now() - pair.at >= SETTLED_RECHECK_MS) return undefined
    return pair.theirs
  }

  /**
   * An exchange ran to its end: our digest as our delta left it, and the peer's after it took the delta up
   * (apart, or nothing to remember). Not one whose writes either side refused for a stamp ahead of its
   * clock (sync.ts forgets the pair instead): time lifts that refusal with no digest changing.
   */
  remember (channel: ChannelReplica, peer: string, mine: string, theirs: string): void {
    let pairs = this.byChannel.get(channel)
    if (mine === theirs) { pairs?.delete(peer); return }
    if (pairs == null) this.byChannel.set(channel, pairs = new Map())
    pairs.delete(peer)
    pairs.set(peer, { mine, theirs, at: this.now() })
    if (pairs.size > MAX_PEERS) pairs.delete(pairs.keys().next().value!)
  }

  forget (channel: ChannelReplica, peer: string): void {
    this.byChannel.get(channel)?.delete(peer)
  }
}
