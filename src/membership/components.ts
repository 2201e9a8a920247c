import type { Libp2p, PeerStore } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import type { RoleCheck } from '../trust/credentials.ts'

/**
 * What membership uses of libp2p (js-libp2p's Components idea): narrow, so
 * unit tests construct it from stubs instead of a whole node.
 */
export type MembershipLibp2p = Pick<Libp2p, 'peerId' | 'getMultiaddrs' | 'getConnections' | 'getPeers' | 'dial' | 'hangUp' | 'handle' | 'unhandle' | 'addEventListener' | 'removeEventListener'> & {
  peerStore: Pick<PeerStore, 'merge'>
}

export type MembershipPubsub = Pick<GossipSub, 'topicValidators' | 'addEventListener' | 'removeEventListener' | 'subscribe' | 'unsubscribe' | 'publish'>

/** The verified roles of peers: gossip and sync count only from members, capacity only from agents. */
export type MembershipRoles = RoleCheck

export interface MembershipComponents {
  libp2p: MembershipLibp2p
  pubsub: MembershipPubsub
  roles: MembershipRoles
}
