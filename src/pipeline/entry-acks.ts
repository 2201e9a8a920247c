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
    this.change(itemId, count - 1)
  }

  /** Item `itemId` left the pipeline (the sink resolved, or it failed). */
  settled (itemId: string): void {
    this.change(itemId, -1)
  }

  private change (itemId: string, delta: number): void {
    const entryId = this.entryOf(itemId)
    // an item that did not come from the durable source (fed with `run.push()`) has no entry to acknowledge
    if (entryId == null) return
    const open = this.open.get(entryId)!
    const left = open + delta
    if (left > 0) {
      this.open.set(entryId, left)
      return
    }
    this.open.delete(entryId)
    this.ack(entryId)
  }

  /**
   * The entry inside that `itemId` derives from: the id itself, or less one fan-out suffix (`.<k>`)
   * at a time. Looked up, not cut at a dot: a source's own ids may hold dots (`orders.eu:17`, `v1.2`).
   */
  private entryOf (itemId: string): string | undefined {
    let id = itemId
    for (;;) {
      if (this.open.has(id)) return id
      const dot = id.lastIndexOf('.')
      if (dot < 0 || !isDigits(id, dot + 1)) return undefined
      id = id.slice(0, dot)
    }
  }
}

function isDigits (text: string, from: number): boolean {
  if (from >= text.length) return false
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}
