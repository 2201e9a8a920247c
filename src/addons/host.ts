import type { Member } from '../membership/member.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import type { RefusedCount } from '../transport/refused-connections.ts'
import type { PipelineRun } from '../pipeline/run.ts'
import type { Channel } from '../channels/channel.ts'
import type { GridNodeEvents, GridNodeListener } from '../node-events.ts'
import type { Tasks } from '../tasks/tasks.ts'

/** The node's tasks as an add-on may use them (the HTTP API): submit, look up, sessions, registered names. */
export type AddonTasks = Pick<Tasks, 'session' | 'submit' | 'getTask' | 'getSession' | 'sessions' | 'register' | 'registeredModule' | 'registeredNames'>
import type { TasksOverview } from '../tasks/stats.ts'

/**
 * The part of a node an add-on sees (Fastify style: a narrow host, never the
 * whole GridNode, so add-ons depend on this contract and not on the node's
 * internals). GridNode implements it; unit tests pass a stub.
 */
export interface AddonHost {
  /** This node's peer id. */
  readonly peerId: string
  /** Addresses other members can dial, each ending in /p2p/<peerId>. */
  readonly addresses: string[]
  /** Every other member this node knows of, never itself. */
  members: () => Member[]
  /** This node's own entry, as it gossips it. */
  self: () => Member
  /** Peer ids this node has an open connection to. */
  connectedPeers: () => string[]
  /** Bad messages from peers dropped so far, by protocol and reason. */
  rejectedMessages: () => RejectedCount[]
  /** Connections refused at the handshake so far, by direction and reason. */
  refusedConnections: () => RefusedCount[]
  /** When this node's certificate expires (ms since the epoch). */
  certificateNotAfter: () => number
  /** Whether the newest CRL this node holds lists `serial` (normalized hex): for add-ons that accept client certificates themselves (HTTPS). */
  certificateRevoked: (serial: string) => boolean
  /** Bytes of this agent's module cache of shipped code (0 on a node that is not an agent). */
  moduleCacheBytes: () => number
  /** Whether the newest CRL this node holds lists this node's own certificate (it stands down from the grid's deployments and schedules). */
  ownCertificateRevoked: () => boolean
  /** The pipeline runs this node owns that have not finished yet. */
  pipelines: () => PipelineRun[]
  /** The tasks and sessions this node owns, and the task names it serves. */
  readonly tasks: AddonTasks
  /** The tasks this node owns: totals by final status, open ones by status, latency, sessions, running tasks. */
  tasksOverview: () => TasksOverview
  /** The grid-wide channel `name`. */
  channel: (name: string) => Channel
  /** Listens to a node event (membership, peers, pipelines). */
  on<E extends keyof GridNodeEvents> (event: E, listener: GridNodeListener<E>): unknown
  /** Stops listening. */
  off<E extends keyof GridNodeEvents> (event: E, listener: GridNodeListener<E>): unknown
}
