import { positive } from '../config.ts'
import { DEFAULT_FORGET_LEFT_AFTER_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_MAX_MESH_PEERS, DEFAULT_RECONNECT_FOR_MS, DEFAULT_RECONNECT_MAX_BACKOFF_MS } from './constants.ts'

/** Membership timings; every one is an option so tests can compress them. */
export interface MembershipInit {
  /** Heartbeat period. Default 1000 ms. */
  heartbeatMs?: number
  /** Silence before a member is suspect. Default 3 × heartbeatMs. */
  suspectAfterMs?: number
  /** Suspicion timeout with full confirmation. Default 1 × heartbeatMs. */
  suspicionMinMs?: number
  /** Suspicion timeout with no confirmation. Default 3 × heartbeatMs. */
  suspicionMaxMs?: number
  /** Keep redialling a failed member this long. Default 24 h. */
  reconnectForMs?: number
  /** Longest pause between redials of a failed member. Default 10 s. */
  reconnectMaxBackoffMs?: number
  /** How long members that left stay in the member table (and status, dashboard); then only `grid status --all` shows them. Default 60 s. */
  forgetLeftAfterMs?: number
  /** Connect to at most this many members directly (gossip reaches the rest). Default 64. */
  maxMeshPeers?: number
}

export type MembershipConfig = Required<MembershipInit>

export function resolveMembershipConfig (init: MembershipInit): MembershipConfig {
  const heartbeatMs = positive('heartbeatMs', init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS)
  return {
    heartbeatMs,
    suspectAfterMs: positive('suspectAfterMs', init.suspectAfterMs ?? 3 * heartbeatMs),
    suspicionMinMs: positive('suspicionMinMs', init.suspicionMinMs ?? heartbeatMs),
    suspicionMaxMs: positive('suspicionMaxMs', init.suspicionMaxMs ?? 3 * heartbeatMs),
    reconnectForMs: positive('reconnectForMs', init.reconnectForMs ?? DEFAULT_RECONNECT_FOR_MS),
    reconnectMaxBackoffMs: positive('reconnectMaxBackoffMs', init.reconnectMaxBackoffMs ?? DEFAULT_RECONNECT_MAX_BACKOFF_MS),
    forgetLeftAfterMs: positive('forgetLeftAfterMs', init.forgetLeftAfterMs ?? DEFAULT_FORGET_LEFT_AFTER_MS),
    maxMeshPeers: positive('maxMeshPeers', init.maxMeshPeers ?? DEFAULT_MAX_MESH_PEERS)
  }
}
