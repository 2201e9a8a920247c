/**
 * Splits a byte stream into lines of at most `maxBytes` (a newline ends a line). A longer
 * line is handed on as soon as it reaches the bound, marked cut, and the rest of it up to
 * the next newline is skipped: memory stays bounded whatever a process writes.
 */
export class LineSplitter {
  private readonly maxBytes: number
  private readonly onLine: (line: Buffer, cut: boolean) => void
  private parts: Buffer[] = []
  private length = 0
  private skipping = false

  constructor (maxBytes: number, onLine: (line: Buffer, cut: boolean) => void) {
    this.maxBytes = maxBytes
    this.onLine = onLine
  }

  push (chunk: Buffer): void {
    let start = 0
    while (start <= chunk.length) {
      const newline = chunk.indexOf(0x0a, start)
      this.append(chunk.subarray(start, newline === -1 ? chunk.length : newline))
      if (newline === -1) return
      if (this.skipping) this.skipping = false
      else this.emit(false)
      start = newline + 1
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end (): void {
    if (this.length > 0) this.emit(false)
    this.skipping = false
  }

  private append (piece: Buffer): void {
    if (this.skipping || piece.length === 0) return
    const room = this.maxBytes - this.length
    if (piece.length <= room) {
      this.parts.push(piece)
      this.length += piece.length
      return
    }
    // copied: a slice would keep the whole chunk it came from alive
    this.parts.push(Buffer.from(piece.subarray(0, room)))
    this.length += room
    this.emit(true)
    this.skipping = true
  }

  private emit (cut: boolean): void {
    const line = Buffer.concat(this.parts, this.length)
    this.parts = []
    this.length = 0
    this.onLine(line, cut)
  }
}

// CSI (colours, cursor moves), OSC (window titles, hyperlinks) and two-byte escapes
const ESCAPE_SEQUENCES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]/g
// C0 but the tab, DEL, C1, the Unicode line and paragraph separators, bidi overrides and isolates
const CONTROL_CHARACTERS = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** A line as text that cannot move a terminal's cursor, colour it, or pose as more than one line. */
export function cleanLine (line: Buffer): string {
  return line.toString('utf8').replace(ESCAPE_SEQUENCES, '').replace(CONTROL_CHARACTERS, '')
}

/**
 * At most `perSecond` lines in each one-second window; the lines over it are counted,
 * and `onDropped` gets the count once the window is over (or at `flush`).
 */
export class LineBudget {
  private readonly perSecond: number
  private readonly onDropped: (count: number) => void
  private windowStart = -Infinity
  private used = 0
  private dropped = 0
  private timer?: NodeJS.Timeout

  constructor (perSecond: number, onDropped: (count: number) => void) {
    this.perSecond = perSecond
    this.onDropped = onDropped
  }

  /** Whether one more line may pass now. */
  take (): boolean {
    const now = performance.now()
    if (now - this.windowStart >= 1000) {
      this.windowStart = now
      this.used = 0
    }
    if (this.used < this.perSecond) {
      this.used++
      return true
    }
    this.dropped++
    if (this.timer == null) {
      this.timer = setTimeout(() => { this.flush() }, this.windowStart + 1000 - now)
      this.timer.unref()
    }
    return false
  }

  flush (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.dropped === 0) return
    const count = this.dropped
    this.dropped = 0
    this.onDropped(count)
  }
}
