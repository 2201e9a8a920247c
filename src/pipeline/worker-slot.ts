import type { WorkerHandle } from '../owner/worker-handle.ts'
import type { Envelope } from './types.ts'

/** One worker of a stage, as the stage runner dispatches to it. */
export interface Slot {
  handle: WorkerHandle
  /** Items sent and not settled, by ticket: a settlement whose ticket is gone (its item went back to the queue) is dropped. */
  inflight: Map<number, Envelope>
  draining: boolean
  dead: boolean
  /** Running one isolated item, alone: it takes nothing else meanwhile. */
  exclusive: boolean
  /** Items that timed out (itemTimeoutMs) and still run on it: it takes nothing else meanwhile. */
  stuck: number
  /** Killed by the owner for an item that went on past itemTimeoutMs: its other items are not to blame, nor is the worker lost. */
  killedForTimeout?: boolean
  /** It answered an item or started one: its setup works (see SetupWatch). */
  heard?: boolean
  busySince?: number
  /** When the item it runs now started (as the owner sees it): the worker that started first frees first. */
  headSince?: number
}

/** `a`'s current item started before `b`'s: `a` is the likelier to free first. */
const startedFirst = (a: Slot, b: Slot): boolean => (a.headSince ?? 0) < (b.headSince ?? 0)

/**
 * The open worker with the fewest items in flight, below `limit`: items spread evenly, latency stays
 * flat. Among busy workers with as many in flight, the one whose current item started first: it is the
 * likeliest to free first, so an item that must wait behind another waits least (the first in order
 * would keep it, on average, half an item longer).
 */
export function leastLoaded (slots: Iterable<Slot>, limit: number): Slot | undefined {
  let best: Slot | undefined
  for (const slot of slots) {
    if (slot.draining || slot.dead || slot.exclusive || slot.stuck > 0 || slot.inflight.size >= limit) continue
    if (slot.inflight.size === 0) return slot
    if (best == null || slot.inflight.size < best.inflight.size || (slot.inflight.size === best.inflight.size && startedFirst(slot, best))) best = slot
  }
  return best
}
