import type { MembershipEvents } from './membership/events.ts'
import type { PipelineRun } from './pipeline/run.ts'

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
} & MembershipEvents

export type GridNodeListener<E extends keyof GridNodeEvents> = (...args: GridNodeEvents[E]) => void
