import { randomHex } from '../../tasks/random-hex.ts'

/** One live event of a task or session stream; `seq` is its number within that stream's log (1, 2, 3, ...). */
export interface LiveEvent {
  seq: number
  /** status | progress | log | result | error (task streams); the same plus counts (session streams). */
  type: string
  data: Record<string, unknown>
}

export type LiveReader = (event: LiveEvent) => void

/**
 * A stream's events with ids, the last `capacity` kept for resume
 * (`Last-Event-ID`): a reader replays what it missed, then follows. Readers
 * are called synchronously in append order, so replay-then-follow has no gap.
 */
export class EventLog {
  readonly key: string
  /**
   * This log's incarnation, in every id it gives (`<epoch>.<seq>`): a log made again for the same task
   * or session (after a restart, or once forgotten) numbers from 1 again, and an id of the earlier one
   * must not be taken for one of its own.
   */
  readonly epoch = randomHex(4)
  private readonly capacity: number
  private readonly kept: LiveEvent[] = []
  private readonly readers = new Set<LiveReader>()
  private readonly endListeners = new Set<() => void>()
  private nextSeq = 1
  private finished = false
  /** When it ended (for forgetting it later). */
  endedAt?: number

  /** Whose stream it is: a task's, or a session's (which carries its tasks' events too). */
  readonly kind: 'task' | 'session'

  constructor (key: string, capacity: number, kind: 'task' | 'session' = 'task') {
    this.key = key
    this.capacity = capacity
    this.kind = kind
  }

  get ended (): boolean {
    return this.finished
  }

  /** Someone follows it now (a reader the hub must not cut off to make room). */
  get read (): boolean {
    return this.readers.size > 0
  }

  /** The id of the last event appended (0: none yet). */
  get lastSeq (): number {
    return this.nextSeq - 1
  }

  append (type: string, data: Record<string, unknown>): void {
    if (this.finished) return
    const event = { seq: this.nextSeq++, type, data }
    this.kept.push(event)
    if (this.kept.length > this.capacity) this.kept.shift()
    for (const reader of this.readers) reader(event)
  }

  /** No more events: readers are told (after the last event) and let go. */
  end (): void {
    if (this.finished) return
    this.finished = true
    this.endedAt = Date.now()
    this.readers.clear()
    for (const listener of this.endListeners) listener()
    this.endListeners.clear()
  }

  /** The id readers see for event `seq`: the log's epoch and the number. */
  idOf (seq: number): string {
    return `${this.epoch}.${seq}`
  }

  /**
   * Where a reader that last saw `after` (of the log `epoch`, if it says) resumes: right after it, with
   * `gap` when events since have left the buffer; from the start, with `gap`, when the id is another
   * log's (an earlier log of the same task or session, forgotten since: its numbering started again)
   * or, with no epoch, beyond this log.
   */
  resume (after: number, epoch?: string): { after: number, gap: boolean } {
    if ((epoch != null && epoch !== this.epoch) || after >= this.nextSeq) return { after: 0, gap: true }
    return { after, gap: after + 1 < (this.kept[0]?.seq ?? this.nextSeq) }
  }

  /**
   * Replays the events after `after` (0: all kept) to `reader`, then follows
   * until `unsubscribe` or the end (`onEnd`, called once, after the last event).
   */
  follow (after: number, reader: LiveReader, onEnd: () => void): () => void {
    for (const event of this.kept) if (event.seq > after) reader(event)
    if (this.finished) {
      onEnd()
      return () => {}
    }
    this.readers.add(reader)
    this.endListeners.add(onEnd)
    return () => { this.readers.delete(reader); this.endListeners.delete(onEnd) }
  }
}
