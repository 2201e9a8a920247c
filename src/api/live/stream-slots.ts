import { TooManyStreamsError } from '../../errors.ts'

/** Open event streams and WebSockets at once: each holds a connection and a buffer. */
export class StreamSlots {
  private readonly max: number
  private open = 0

  constructor (max: number) {
    this.max = max
  }

  /** Takes a slot (and returns its release, idempotent), or throws ERR_TOO_MANY_STREAMS (503). */
  take (): () => void {
    if (this.open >= this.max) throw new TooManyStreamsError(this.max)
    this.open++
    let released = false
    return () => {
      if (released) return
      released = true
      this.open--
    }
  }
}
