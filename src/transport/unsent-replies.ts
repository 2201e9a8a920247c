/**
 * Bytes of answers each peer has not taken yet, bounded per peer. An answer is held from the moment it is
 * encoded until its stream is closed or aborted; one that would take its peer over `maxPerPeer` is refused
 * (the first always goes, however large). For request protocols whose answers can be large (a task's
 * result: 16 MiB by default): a peer that asks on every stream it may open (64 a connection, 8
 * connections) and reads none would otherwise have the node hold every answer until the streams' deadline.
 */
/** What a peer refused for answers it has not read is told to wait: those must drain first. */
export const UNSENT_RETRY_MS = 1000

export class UnsentReplies {
  private readonly held = new Map<string, number>()
  private readonly maxPerPeer: number

  constructor (maxPerPeer: number) {
    this.maxPerPeer = maxPerPeer
  }

  /** Holds `bytes` for `peer`: the function that lets them go (call it once the stream is done), or undefined when over the bound. */
  hold (peer: string, bytes: number): (() => void) | undefined {
    const before = this.held.get(peer) ?? 0
    if (before > 0 && before + bytes > this.maxPerPeer) return undefined
    this.held.set(peer, before + bytes)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.held.get(peer) ?? bytes) - bytes
      if (left <= 0) this.held.delete(peer)
      else this.held.set(peer, left)
    }
  }

  /** What `peer`'s answers not yet taken come to. */
  heldBy (peer: string): number {
    return this.held.get(peer) ?? 0
  }
}
