import type { MemberState } from './schema.ts'

const watchable = (state: MemberState): boolean => state === 'alive' || state === 'suspect'

/**
 * The member table's ids by state, so periodic work (failure detection,
 * forgetting, claims) visits the few rows it concerns, not the whole table:
 * a node's cost per tick stays flat as the grid grows.
 */
export class StateIndex {
  readonly byState: Record<MemberState, Set<string>> = { alive: new Set(), suspect: new Set(), failed: new Set(), left: new Set() }
  /** Rows someone else doubts (their `contestedUntil` is set); pruned as they are read. */
  readonly contested = new Set<string>()
  /** Bumped whenever the set of alive or suspect members changes (MonitorRing recomputes then). */
  version = 0
  /** Told each id that joins or leaves the alive-or-suspect set (the ring follows it). */
  private readonly onWatchable?: (id: string, watchable: boolean) => void

  constructor (onWatchable?: (id: string, watchable: boolean) => void) {
    this.onWatchable = onWatchable
  }

  add (id: string, state: MemberState): void {
    this.byState[state].add(id)
    if (watchable(state)) this.changed(id, true)
  }

  remove (id: string, state: MemberState): void {
    this.byState[state].delete(id)
    this.contested.delete(id)
    if (watchable(state)) this.changed(id, false)
  }

  move (id: string, from: MemberState, to: MemberState): void {
    this.byState[from].delete(id)
    this.byState[to].add(id)
    if (watchable(from) !== watchable(to)) this.changed(id, watchable(to))
  }

  private changed (id: string, isWatchable: boolean): void {
    this.version++
    this.onWatchable?.(id, isWatchable)
  }

  count (states: MemberState[]): number {
    let n = 0
    for (const state of states) n += this.byState[state].size
    return n
  }
}
