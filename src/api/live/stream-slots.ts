import { TooManyStreamsError } from '../../errors.ts'

/**
 * Open event streams and WebSockets at once: each holds a connection and a buffer. Bounded in all and per
 * subject, as sessions and tasks are: one token opening streams in a loop would otherwise take every slot,
 * and nobody else could follow anything.
 */
export class StreamSlots {
  private readonly max: number
  private readonly perSubject: number
  private open = 0
  private readonly bySubject = new Map<string, number>()

  constructor (max: number, perSubject = max) {
    this.max = max
    this.perSubject = perSubject
  }

  /** Takes a slot for `subject` (and returns its release, idempotent), or throws ERR_TOO_MANY_STREAMS (503). */
  take (subject: string): () => void {
    if (this.open >= this.max) throw new TooManyStreamsError(this.max)
    const held = this.bySubject.get(subject) ?? 0
    if (held >= this.perSubject) throw new TooManyStreamsError(this.perSubject, subject)
    this.open++
    this.bySubject.set(subject, held + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.open--
      const left = (this.bySubject.get(subject) ?? 1) - 1
      if (left === 0) this.bySubject.delete(subject)
      else this.bySubject.set(subject, left)
    }
  }
}
