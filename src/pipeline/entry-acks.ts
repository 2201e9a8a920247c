import { entryOf } from '../connectors/types.ts'

/**
 * Which source entries still have items inside the pipeline, and how many: an
 * entry is acknowledged the moment its last item is through (delivered,
 * dropped or failed), and then forgotten. State is one counter per entry in
 * flight, none after delivery: an endless run stays small.
 */
export class EntryAcks {
  private readonly open = new Map<string, number>()
  private readonly ack: (entryId: string) => void

  constructor (ack: (entryId: string) => void) {
    this.ack = ack
  }

  /** Entries with items inside. */
  get size (): number {
    return this.open.size
  }

  admitted (entryId: string): void {
    this.open.set(entryId, (this.open.get(entryId) ?? 0) + 1)
  }

  /** Item `itemId` became `count` items (0: dropped, > 1: fanned out). */
  resulted (itemId: string, count: number): void {
    if (count === 1) return
    this.change(entryOf(itemId), count - 1)
  }

  /** Item `itemId` left the pipeline (the sink resolved, or it failed). */
  settled (itemId: string): void {
    this.change(entryOf(itemId), -1)
  }

  private change (entryId: string, delta: number): void {
    const open = this.open.get(entryId)
    // an item that did not come from the durable source (fed with `run.push()`) has no entry to acknowledge
    if (open == null) return
    const left = open + delta
    if (left > 0) {
      this.open.set(entryId, left)
      return
    }
    this.open.delete(entryId)
    this.ack(entryId)
  }
}
