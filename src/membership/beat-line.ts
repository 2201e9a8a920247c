import * as v from 'valibot'
import type { AbortOptions, Connection } from '@libp2p/interface'
import { ProtocolError } from '../errors.ts'
import { JsonStream } from '../transport/json-stream.ts'
import { BEAT_PROTOCOL, LINE_CLOSE_TIMEOUT_MS } from './constants.ts'

/** A beat, or the request that starts them, is a few dozen bytes. */
export const MAX_BEAT_BYTES = 256
/** Beats a member may send beyond one per period since the line opened (its first comes at once; a late timer does not catch up). */
const BEAT_SLACK = 8

export const beatSchema = v.object({ v: v.literal(1), incarnation: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)) })
export const beatRequestSchema = v.object({ v: v.literal(1), everyMs: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(600_000)) })

/**
 * A watcher's line to a member it watches: the watcher asks once for a beat
 * every `everyMs`, and the member then sends its incarnation that often,
 * unasked, until the line closes. A ping and its answer were two messages a
 * period each way and two thirds of an idle node's traffic; a beat is one.
 * What the watcher learns is the same: the member's process runs its timers
 * and reaches this node over this connection, and its silence for the
 * suspicion window makes it suspect.
 */
export class BeatLine {
  readonly connection: Connection
  private readonly json: JsonStream
  private readonly everyMs: number
  private readonly onBeat: (incarnation: number) => void
  private readonly openedAt = performance.now()
  private beats = 0
  private ended = false

  /** Opens the line and asks for beats; rejects with libp2p's UnsupportedProtocolError for a member that only answers pings. */
  static async open (connection: Connection, everyMs: number, onBeat: (incarnation: number) => void, options: AbortOptions): Promise<BeatLine> {
    const json = new JsonStream(await connection.newStream(BEAT_PROTOCOL, options), { maxBytes: MAX_BEAT_BYTES })
    try {
      await json.write({ v: 1, everyMs }, options)
    } catch (err) {
      json.stream.abort(err as Error)
      throw err
    }
    return new BeatLine(connection, json, everyMs, onBeat)
  }

  private constructor (connection: Connection, json: JsonStream, everyMs: number, onBeat: (incarnation: number) => void) {
    this.connection = connection
    this.json = json
    this.everyMs = everyMs
    this.onBeat = onBeat
    void this.readBeats()
  }

  get closed (): boolean {
    return this.ended || this.connection.status !== 'open'
  }

  close (err?: Error): void {
    if (this.ended) return
    this.ended = true
    if (err != null) this.json.stream.abort(err)
    else void this.json.close({ signal: AbortSignal.timeout(LINE_CLOSE_TIMEOUT_MS) })
  }

  private async readBeats (): Promise<void> {
    try {
      for (;;) {
        const beat = await this.json.read(beatSchema)
        // a member sends one a period at most (a paused watcher reads a backlog, still within this)
        if (++this.beats > BEAT_SLACK + 2 * (performance.now() - this.openedAt) / this.everyMs) throw new ProtocolError(`more beats than one per ${this.everyMs} ms`)
        if (this.ended) return
        this.onBeat(beat.incarnation)
      }
    } catch (err) {
      // the member closed the line (stopping, restarting) or broke it
      this.close((err as Error).name === 'UnexpectedEOFError' ? undefined : err as Error)
    }
  }
}
