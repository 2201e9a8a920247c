/**
 * One start/stop-able part of a node (js-libp2p's `Startable`): the list
 * that runs it calls `start` once and `stop` once, so a part need not guard
 * against repeats itself. A part whose `start` threw is stopped too (it may
 * hold half of what it opened): `stop` must cope with a partial start.
 */
export interface Service {
  /** Names the part in logs ("membership", "control protocol", …). */
  readonly name: string
  /** `signal` is the start's own (`GridNode.start(init, { signal })`): a part that may wait long (add-ons, the tasks' journal) gives up when it aborts; the list stops waiting on any part then, and stops it once its start settles. */
  start?: (context: { signal?: AbortSignal }) => void | Promise<void>
  /** Graceful: leave, drain, close. Bounded by the list's deadline. */
  stop?: () => void | Promise<void>
  /**
   * Immediate: drop what a graceful stop left behind (connections, child
   * processes, timers). Called when `stop` missed the deadline or threw; it
   * must not wait on peers.
   */
  destroy?: () => void | Promise<void>
}
