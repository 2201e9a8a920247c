import type { Libp2p } from '@libp2p/interface'

/** What of libp2p's and gossipsub's internals holds a timer past their stop (none of it is public API). */
interface TimerHolders {
  services?: { pubsub?: { status?: { heartbeatTimeout?: ReturnType<typeof setTimeout> } } }
  components?: { addressManager?: { _updatePeerStoreAddresses?: { stop?: () => void } } }
}

/**
 * Stops libp2p and clears the two timers it leaves behind, so a stopped node keeps the process alive no
 * longer: gossipsub (17) never clears the heartbeat it had scheduled (its stop drops the reference with its
 * status), and libp2p's address manager (3), which has no stop of its own, debounces the peer-store update
 * each closing listener asks for by 1 s. Each ran on the stopped node and held an embedding app's exit for
 * up to a second after `node.stop()`. Read through optional chains: a libp2p without them is stopped as is.
 */
export async function stopLibp2p (libp2p: Libp2p): Promise<void> {
  const holders = libp2p as unknown as TimerHolders
  // the status object, taken before the stop: gossipsub's stop replaces it, and with it the only reference;
  // read after it, since a heartbeat running as the stop began schedules its successor on this object
  const status = holders.services?.pubsub?.status
  try {
    await libp2p.stop()
  } finally {
    clearTimeout(status?.heartbeatTimeout)
    holders.components?.addressManager?._updatePeerStoreAddresses?.stop?.()
  }
}
