import { checkOption } from '../checks/check.ts'
import { memberCount, positiveInteger, positiveNumber, timerMs } from '../checks/values.ts'
import { DEFAULT_MAX_MEMBERS, DEFAULT_FORGET_LEFT_AFTER_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_MAX_MESH_PEERS, DEFAULT_RECONNECT_FOR_MS, DEFAULT_RECONNECT_MAX_BACKOFF_MS, DEFAULT_MONITORS } from './constants.ts'

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
  /** Most members the member table holds (a peer cannot grow it without end). Default 4096. */
  maxMembers?: number
  /** How many members each node watches (a beat from each every heartbeatMs; a ping to older nodes): the ring successors. Default 2. */
  monitors?: number
  /**
   * An unchanged entry is gossiped again every `members × refreshPerMemberMs`, so the grid-wide rate is
   * constant (one every 3 heartbeats). Default 3 × heartbeatMs: liveness rides on the watchers' beats and
   * every change on its own heartbeat, so the refresh only repairs a lost message and ages load figures;
   * each one costs every node a signature check and D copies received.
   */
  refreshPerMemberMs?: number
  /** ...but not more often than this. Default 5 × heartbeatMs. */
  refreshMinMs?: number
}

export type MembershipConfig = Required<MembershipInit>

export function resolveMembershipConfig (init: MembershipInit): MembershipConfig {
  const heartbeatMs = checkOption('heartbeatMs', timerMs, init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS)
  return {
    heartbeatMs,
    suspectAfterMs: checkOption('suspectAfterMs', positiveNumber, init.suspectAfterMs ?? 3 * heartbeatMs),
    suspicionMinMs: checkOption('suspicionMinMs', positiveNumber, init.suspicionMinMs ?? heartbeatMs),
    suspicionMaxMs: checkOption('suspicionMaxMs', positiveNumber, init.suspicionMaxMs ?? 3 * heartbeatMs),
    reconnectForMs: checkOption('reconnectForMs', positiveNumber, init.reconnectForMs ?? DEFAULT_RECONNECT_FOR_MS),
    reconnectMaxBackoffMs: checkOption('reconnectMaxBackoffMs', timerMs, init.reconnectMaxBackoffMs ?? DEFAULT_RECONNECT_MAX_BACKOFF_MS),
    forgetLeftAfterMs: checkOption('forgetLeftAfterMs', positiveNumber, init.forgetLeftAfterMs ?? DEFAULT_FORGET_LEFT_AFTER_MS),
    maxMeshPeers: checkOption('maxMeshPeers', positiveNumber, init.maxMeshPeers ?? DEFAULT_MAX_MESH_PEERS),
    maxMembers: checkOption('maxMembers', memberCount, init.maxMembers ?? DEFAULT_MAX_MEMBERS),
    monitors: checkOption('monitors', positiveInteger, init.monitors ?? DEFAULT_MONITORS),
    refreshPerMemberMs: checkOption('refreshPerMemberMs', positiveNumber, init.refreshPerMemberMs ?? 3 * heartbeatMs),
    refreshMinMs: checkOption('refreshMinMs', positiveNumber, init.refreshMinMs ?? 5 * heartbeatMs)
  }
}
