import { SETUP_FAILURES_TO_FAIL } from './item-retry.ts'
import type { Slot } from './worker-slot.ts'

/**
 * A stage's workers that ended in their setup since one was last heard from (it answered an item or
 * started one: its setup works). SETUP_FAILURES_TO_FAIL in a row is the stage's own code, unless a worker
 * heard from still runs (busy on a long item): then it is one bad agent, and the run goes on with the
 * healthy workers, as a task pool does (before, three setups failing on one agent failed the run while a
 * healthy worker ran a long item elsewhere).
 */
export class SetupWatch {
  private failures = 0

  /**
   * Too many setups failed, while a worker heard from runs: none is respawned (onto the bad agent, in a
   * loop of forks) until a worker is heard from again. With none left, the next one is placed, and fails
   * the run if its setup fails too.
   */
  holding (slots: Iterable<Slot>): boolean {
    return this.failures >= SETUP_FAILURES_TO_FAIL && heardRuns(slots)
  }

  /** `slot` answered or started an item; true if setups had failed too often (the floor may be kept again). */
  heard (slot: Slot): boolean {
    slot.heard = true
    const held = this.failures >= SETUP_FAILURES_TO_FAIL
    this.failures = 0
    return held
  }

  /** A worker ended in its setup: 'fail' when that is the stage's own code (the run fails with it). */
  failed (slots: Iterable<Slot>): 'fail' | undefined {
    return ++this.failures >= SETUP_FAILURES_TO_FAIL && !heardRuns(slots) ? 'fail' : undefined
  }
}

function heardRuns (slots: Iterable<Slot>): boolean {
  for (const slot of slots) if (slot.heard === true && !slot.dead) return true
  return false
}
