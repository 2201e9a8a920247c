/** A batch message on a worker stream: its bytes are held until each of its items is answered. */
export class InFlightBatch {
  private left: number
  private readonly bytes: number
  private readonly owner: BytesInFlight

  constructor (owner: BytesInFlight, bytes: number, items: number) {
    this.owner = owner
    this.bytes = bytes
    this.left = items
  }

  /** One of its items answered (or ended with the worker); the last frees the message's bytes. */
  answered (): void {
    if (this.left <= 0) return
    this.left--
    if (this.left === 0) this.owner.release(this.bytes)
  }
}

/**
 * The bytes of a worker stream's batch messages whose items are not all answered yet, as both ends count
 * them (a message's body, as its length prefix says): the agent closes a stream past `max`, and the
 * requester holds its next message back until it fits. A message always fits when nothing is held, so
 * one of the largest still goes alone.
 */
export class BytesInFlight {
  private held = 0
  private readonly max: number

  constructor (max: number) {
    this.max = max
  }

  get bytes (): number {
    return this.held
  }

  fits (bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.max
  }

  /** Charges a message of `bytes` carrying `items` items (none: nothing is held for it). */
  take (bytes: number, items: number): InFlightBatch {
    if (items > 0) this.held += bytes
    return new InFlightBatch(this, bytes, items)
  }

  release (bytes: number): void {
    this.held -= bytes
  }
}
