/**
 * An async iterator fed by pushes: bounded (the oldest events are dropped when
 * a slow reader falls `limit` behind, and `dropped` counts them; the reader
 * gets `gap(n)` in their place, if given), ended by `end()` or by the reader
 * (`return()`, a `break` in for-await).
 */
export class EventStream<T> implements AsyncIterableIterator<T> {
  dropped = 0
  private readonly buffer: T[] = []
  private readonly limit: number
  private waiting?: (result: IteratorResult<T>) => void
  private ended = false
  private readonly onClose: () => void
  private readonly gap?: (dropped: number) => T
  /** Dropped since the reader last got a gap notice. */
  private unreported = 0

  constructor (limit: number, onClose: () => void, gap?: (dropped: number) => T) {
    this.limit = limit
    this.onClose = onClose
    this.gap = gap
  }

  push (value: T): void {
    if (this.ended) return
    if (this.waiting != null) {
      const wake = this.waiting
      this.waiting = undefined
      wake({ value, done: false })
      return
    }
    if (this.buffer.length >= this.limit) {
      this.buffer.shift()
      this.dropped++
      this.unreported++
    }
    this.buffer.push(value)
  }

  end (): void {
    if (this.ended) return
    this.ended = true
    this.onClose()
    if (this.waiting != null && this.buffer.length === 0) {
      const wake = this.waiting
      this.waiting = undefined
      wake({ value: undefined, done: true })
    }
  }

  async next (): Promise<IteratorResult<T>> {
    if (this.unreported > 0 && this.gap != null) {
      const gap = this.gap(this.unreported)
      this.unreported = 0
      return { value: gap, done: false }
    }
    if (this.buffer.length > 0) return { value: this.buffer.shift()!, done: false }
    if (this.ended) return { value: undefined, done: true }
    return await new Promise(resolve => { this.waiting = resolve })
  }

  async return (): Promise<IteratorResult<T>> {
    this.buffer.length = 0
    this.unreported = 0
    this.end()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator] (): AsyncIterableIterator<T> {
    return this
  }
}
