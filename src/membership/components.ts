import type { Libp2p, PeerStore } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'

/**
 * What membership uses of libp2p (js-libp2p's Components idea): narrow, so
 * unit tests construct it from stubs instead of a whole node.
 */
export type MembershipLibp2p = Pick<Libp2p, 'peerId' | 'getMultiaddrs' | 'getConnections' | 'getPeers' | 'dial' | 'hangUp' | 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener'> & {
  peerStore: Pick<PeerStore, 'merge'>
}

export type MembershipPubsub = Pick<GossipSub, 'topicValidators' | 'addEventListener' | 'removeEventListener' | 'subscribe' | 'unsubscribe' | 'publish'>

export interface MembershipComponents {
  libp2p: MembershipLibp2p
  pubsub: MembershipPubsub
}
