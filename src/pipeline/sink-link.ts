import { RoomWaiters } from './downstream.ts'
import type { Downstream } from './downstream.ts'
import type { Envelope } from './types.ts'

export interface SinkEvents {
  /** The sink resolved for one item: it is done. */
  delivered: () => void
  /** The sink threw: the run fails with it. */
  failed: (err: Error) => void
}

/**
 * The last link: a bounded queue in front of the user's sink, called one item
 * at a time in order. Each item it finishes frees room for the last stage.
 */
export class SinkLink implements Downstream {
  private readonly sink: (value: unknown) => unknown
  private readonly capacity: number
  private readonly events: SinkEvents
  private readonly queue: Envelope[] = []
  private readonly waiters = new RoomWaiters()
  private draining = false
  private closed = false
  private count = 0

  constructor (sink: (value: unknown) => unknown, capacity: number, events: SinkEvents) {
    this.sink = sink
    this.capacity = capacity
    this.events = events
  }

  /** Items the sink resolved for. */
  get delivered (): number {
    return this.count
  }

  room (): number {
    return this.capacity - this.queue.length
  }

  accept (items: Envelope[]): void {
    this.queue.push(...items)
    void this.drain()
  }

  onRoomFreed (wake: () => void): void {
    if (this.closed) wake()
    else this.waiters.add(wake)
  }

  /** Stops calling the sink (what is queued is dropped) and releases whoever waits. */
  close (): void {
    this.closed = true
    this.waiters.wake()
  }

  private async drain (): Promise<void> {
    if (this.draining) return
    this.draining = true
    try {
      while (this.queue.length > 0 && !this.closed) {
        await this.sink(this.queue.shift()!.value)
        this.count++
        this.events.delivered()
        if (this.room() > 0) this.waiters.wake()
      }
    } catch (err) {
      this.events.failed(err as Error)
    } finally {
      this.draining = false
    }
  }
}
