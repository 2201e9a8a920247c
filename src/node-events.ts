import type { MembershipEvents } from './membership/events.ts'
import type { PipelineRun } from './pipeline/run.ts'

/** A newer certificate revocation list this node now holds (`crl:update`). */
export interface CrlUpdate {
  /** Its CRL number. */
  number: bigint
  /** The serials it lists (lower-case hex without leading zeros). */
  revoked: string[]
}

export interface PeerEvent {
  /** The remote peer id (derived from its verified certificate). */
  id: string
  /** Its certificate's name (subject CN), when this node verified one for it: what an operator recognizes. */
  name?: string
}

/** Typed events of a GridNode (Node's EventEmitter: `node.on('peer:connect', ({ id }) => …)`). */
export type GridNodeEvents = {
  'peer:connect': [PeerEvent]
  'peer:disconnect': [PeerEvent]
  /** A pipeline run this node owns has started (add-ons use it to follow stages). */
  'pipeline:start': [PipelineRun]
  /** The node took a newer CRL (from a peer, or `grid certs revoke --peer`): add-ons that accept client certificates themselves (the HTTPS API) end what the revoked ones hold open. */
  'crl:update': [CrlUpdate]
} & MembershipEvents

export type GridNodeListener<E extends keyof GridNodeEvents> = (...args: GridNodeEvents[E]) => void
