import { RoomWaiters } from './downstream.ts'
import type { Downstream } from './downstream.ts'
import type { Envelope, PipelineInit } from './types.ts'
import { isDurableSink } from '../connectors/types.ts'
import { Fifo } from './fifo.ts'

export interface SinkEvents {
  /** The sink resolved for one item: it is done. */
  delivered: (envelope: Envelope) => void
  /** A durable sink refused this item alone (a value it cannot encode): it fails, the rest go on. */
  refused: (envelope: Envelope, err: Error) => void
  /** The sink threw: the run fails with it. */
  failed: (err: Error) => void
}

/**
 * The last link: a bounded queue in front of the user's sink, called one item
 * at a time in order (a durable sink: with everything queued, as one batch).
 * Each item it finishes frees room for the last stage.
 */
export class SinkLink implements Downstream {
  private readonly sink: PipelineInit['sink']
  private readonly capacity: number
  private readonly events: SinkEvents
  /** Prefixed to the ids a durable sink sees (DurableSource.scope). */
  private readonly scope: string
  private readonly queue = new Fifo<Envelope>()
  private readonly waiters = new RoomWaiters()
  private draining = false
  private closed = false
  private count = 0

  constructor (sink: PipelineInit['sink'], capacity: number, scope: string, events: SinkEvents) {
    this.sink = sink
    this.capacity = capacity
    this.scope = scope
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
    for (const item of items) this.queue.push(item)
    void this.drain()
  }

  onRoomFreed (wake: () => void): void {
    // closed, it never frees room again: close() woke the last stage once, and a wake now would find the
    // queue as full, ask again and be woken again at once, until the stack ran out (the run's done never
    // settled, its connectors never closed); the stage is closed with the run right after
    if (!this.closed) this.waiters.add(wake)
  }

  /** Stops calling the sink (what is queued is dropped) and releases whoever waits. */
  close (): void {
    this.closed = true
    this.waiters.wake()
  }

  private async drain (): Promise<void> {
    if (this.draining) return
    this.draining = true
    const sink = this.sink
    try {
      if (isDurableSink(sink)) {
        while (this.queue.length > 0 && !this.closed) {
          const batch = this.queue.takeAll()
          const refusals = await sink.write(batch.map(e => ({ id: this.scope + e.id, value: e.value })))
          if (this.closed) return
          const refused = new Map(Array.isArray(refusals) ? refusals.map(r => [r.id, r.error]) : [])
          for (const envelope of batch) {
            const err = refused.get(this.scope + envelope.id)
            if (err == null) this.deliver(envelope)
            else this.refuse(envelope, err)
          }
        }
        return
      }
      while (this.queue.length > 0 && !this.closed) {
        const envelope = this.queue.shift()!
        await sink(envelope.value, envelope.id)
        this.deliver(envelope)
      }
    } catch (err) {
      this.events.failed(err as Error)
    } finally {
      this.draining = false
    }
  }

  private refuse (envelope: Envelope, err: Error): void {
    this.events.refused(envelope, err instanceof Error ? err : new Error(String(err)))
    if (this.room() > 0) this.waiters.wake()
  }

  private deliver (envelope: Envelope): void {
    this.count++
    this.events.delivered(envelope)
    if (this.room() > 0) this.waiters.wake()
  }
}
