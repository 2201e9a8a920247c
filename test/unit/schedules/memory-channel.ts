import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'

/** A channel of one replica (no gossip), ready at once; `now` drives its clock. */
export function memoryChannel (name: string, self = 'P', now: () => number = Date.now): ChannelReplica {
  const channel = new ChannelReplica(name, { selfId: self, clock: new HlcClock({ now }), maxValueBytes: 64 * 1024, publish: () => {}, running: () => true })
  channel.synced()
  return channel
}

/**
 * Replicas of one channel that see each other's writes only when `deliver()`
 * is called (gossip delayed at will): what a paused or slow member sees.
 */
export class ReplicaSet {
  readonly replicas = new Map<string, ChannelReplica>()
  private pending: Array<{ from: string, entries: Parameters<ChannelReplica['merge']>[0], to: Set<string> }> = []

  constructor (name: string, peers: string[], now: () => number) {
    for (const peer of peers) {
      const channel = new ChannelReplica(name, {
        selfId: peer,
        clock: new HlcClock({ now }),
        maxValueBytes: 64 * 1024,
        publish: entries => { this.pending.push({ from: peer, entries, to: new Set(peers.filter(p => p !== peer)) }) },
        running: () => true
      })
      channel.synced()
      this.replicas.set(peer, channel)
    }
  }

  /** Peers whose writes every other replica refuses (a clock too far ahead: the channels' drift check). */
  readonly refused = new Set<string>()

  /** Delivers the writes so far, except to and from the `paused` (theirs wait until they run again); writes of the `refused` are dropped. */
  deliver (paused: string[] = []): void {
    for (const message of this.pending) {
      if (this.refused.has(message.from)) message.to.clear()
      if (paused.includes(message.from)) continue
      for (const peer of [...message.to]) {
        if (paused.includes(peer)) continue
        this.replicas.get(peer)!.merge(message.entries)
        message.to.delete(peer)
      }
    }
    this.pending = this.pending.filter(m => m.to.size > 0)
  }

  get (peer: string): ChannelReplica {
    return this.replicas.get(peer)!
  }
}
