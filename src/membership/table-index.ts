import type { MemberState } from './schema.ts'

const watchable = (state: MemberState): boolean => state === 'alive' || state === 'suspect'

/** The states the index lists by id: the few rows periodic work visits (alive members are the many). */
export type IndexedState = Exclude<MemberState, 'alive'>

/**
 * The member table's ids by state, so periodic work (failure detection,
 * forgetting, claims) visits the few rows it concerns, not the whole table:
 * a node's cost per tick stays flat as the grid grows. Alive members, nearly
 * every row, are only counted: listing them again would double the table.
 */
export class StateIndex {
  readonly byState: Record<IndexedState, Set<string>> = { suspect: new Set(), failed: new Set(), left: new Set() }
  /** Rows someone else doubts (their `contestedUntil` is set); pruned as they are read. */
  readonly contested = new Set<string>()
  /** Bumped whenever the set of alive or suspect members changes (MonitorRing recomputes then). */
  version = 0
  /** Rows in every state. */
  private total = 0
  /** Told each id that joins or leaves the alive-or-suspect set (the ring follows it). */
  private readonly onWatchable?: (id: string, watchable: boolean) => void

  constructor (onWatchable?: (id: string, watchable: boolean) => void) {
    this.onWatchable = onWatchable
  }

  add (id: string, state: MemberState): void {
    this.total++
    if (state !== 'alive') this.byState[state].add(id)
    if (watchable(state)) this.changed(id, true)
  }

  remove (id: string, state: MemberState): void {
    this.total--
    if (state !== 'alive') this.byState[state].delete(id)
    this.contested.delete(id)
    if (watchable(state)) this.changed(id, false)
  }

  move (id: string, from: MemberState, to: MemberState): void {
    if (from !== 'alive') this.byState[from].delete(id)
    if (to !== 'alive') this.byState[to].add(id)
    if (watchable(from) !== watchable(to)) this.changed(id, watchable(to))
  }

  count (states: MemberState[]): number {
    let n = 0
    for (const state of states) n += state === 'alive' ? this.total - this.byState.suspect.size - this.byState.failed.size - this.byState.left.size : this.byState[state].size
    return n
  }

  /** The same index for a forked table (the sets copied; they hold the few rows not alive). */
  copy (onWatchable?: (id: string, watchable: boolean) => void): StateIndex {
    const index = new StateIndex(onWatchable)
    for (const state of ['suspect', 'failed', 'left'] as const) for (const id of this.byState[state]) index.byState[state].add(id)
    for (const id of this.contested) index.contested.add(id)
    index.total = this.total
    return index
  }

  private changed (id: string, isWatchable: boolean): void {
    this.version++
    this.onWatchable?.(id, isWatchable)
  }
}
