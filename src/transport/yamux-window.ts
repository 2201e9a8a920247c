import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

/** The receive-window fields @libp2p/yamux keeps private. */
interface ReceiveWindow {
  recvWindow: number
  recvWindowCapacity: number
}

let installed = false

/**
 * Window updates only once half a stream's receive window is used, as Go's
 * yamux (the reference implementation) and Hashicorp's spec do. @libp2p/yamux
 * answers every data frame with a window update: each message a node receives
 * costs it a second frame back — a TLS record, a socket write and a wake-up of
 * the sender — which was about half the write system calls of an idle member
 * and of a task owner. A sender is never held back by this: it blocks only when
 * its window is empty, and by then the whole window is used, so the update goes
 * out. Opening and acknowledging frames (SYN, ACK) go out as before.
 * Patches the prototype once (the `./stream` export is public); idempotent.
 */
export function sendWindowUpdatesAtHalf (): void {
  if (installed) return
  installed = true
  const send = YamuxStream.prototype.sendWindowUpdate
  YamuxStream.prototype.sendWindowUpdate = function (this: YamuxStream): void {
    const window = this as unknown as ReceiveWindow
    if (this.state === StreamState.Established && window.recvWindow - window.recvWindowCapacity < window.recvWindow / 2) return
    send.call(this)
  }
}
