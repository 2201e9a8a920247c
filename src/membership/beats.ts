import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import * as v from 'valibot'
import { ProtocolError } from '../errors.ts'
import { JsonStream } from '../transport/json-stream.ts'
import type { Logger } from '../logger.ts'
import { guarded } from '../trust/guard.ts'
import { streamFailure } from '../transport/rejections.ts'
import type { Rejections } from '../transport/rejections.ts'
import type { MembershipLibp2p, MembershipRoles } from './components.ts'
import { BEAT_PROTOCOL, LINE_CLOSE_TIMEOUT_MS } from './constants.ts'
import { BeatLine, MAX_BEAT_BYTES, beatRequestSchema } from './beat-line.ts'

/** Watchers a member has per connection: one line each, a few more to cover reconnects and restarts. */
const MAX_INBOUND_LINES = 4
/** The shortest period a watcher may ask for: a peer cannot make this node write more than 50 beats a second on a line. */
const MIN_BEAT_MS = 20
/** A watcher that opened a line says what it wants within this, or the line is dropped. */
const REQUEST_TIMEOUT_MS = 10_000

/** A watcher's line, on the member's side, and the timer that beats on it. */
interface Subscriber { json: JsonStream, writing: boolean, timer?: NodeJS.Timeout }

/** The watcher's side of one watched member. */
interface Watched { peer: PeerId, line?: BeatLine, opening: boolean, pingOnlyOn?: Connection }

export interface MemberBeatsInit {
  libp2p: Pick<MembershipLibp2p, 'handle' | 'unhandle' | 'getConnections'>
  roles: MembershipRoles
  log: Logger
  rejections: Rejections
  /** This node's heartbeat period: the beat it asks of the members it watches. */
  periodMs: number
  incarnation: () => number
  /** A watched member's beat (its incarnation). */
  onBeat: (id: string, incarnation: number) => void
  /** A line to a watched member opened: its first beat is on its way. */
  onLine?: (id: string) => void
}

/**
 * Liveness between a watcher and the members it watches, as beats the member
 * sends unasked (BeatLine). As a member, this node keeps its watchers' lines
 * and beats on each every period it asked for, each line on its own timer
 * started when it opened: the watchers of a member sample it at different
 * phases, as their pings did, so the first to miss a beat after a crash is
 * the one whose beat was due first. As a watcher, it keeps one line to each
 * member it watches, on that member's current connection. A member that does
 * not speak the protocol (an older node) is pinged instead: `watch` returns it.
 */
export class MemberBeats {
  private readonly init: MemberBeatsInit
  private readonly subscribers = new Set<Subscriber>()
  private readonly watched = new Map<string, Watched>()
  private abort = new AbortController()

  constructor (init: MemberBeatsInit) {
    this.init = init
  }

  async start (): Promise<void> {
    this.abort = new AbortController()
    // no stream deadline: a line lives as long as its watcher keeps it open
    await this.init.libp2p.handle(BEAT_PROTOCOL, guarded(this.init.roles, BEAT_PROTOCOL, ['member'], async (stream, connection) => { await this.serve(stream, connection) }), { maxInboundStreams: MAX_INBOUND_LINES })
  }

  async stop (): Promise<void> {
    this.abort.abort()
    await this.init.libp2p.unhandle(BEAT_PROTOCOL)
    for (const subscriber of this.subscribers) {
      clearInterval(subscriber.timer)
      void subscriber.json.close({ signal: AbortSignal.timeout(LINE_CLOSE_TIMEOUT_MS) })
    }
    this.subscribers.clear()
    for (const w of this.watched.values()) w.line?.close()
    this.watched.clear()
  }

  /**
   * Keeps a line to each of `targets` (opening those missing, on the member's current connection) and
   * closes the lines to members no longer watched. Returns the targets to ping instead: members whose
   * connection refused the beat protocol.
   */
  watch (targets: readonly string[]): string[] {
    const wanted = new Set(targets)
    for (const [id, w] of this.watched) {
      if (!wanted.has(id)) { w.line?.close(); this.watched.delete(id) }
    }
    const ping: string[] = []
    for (const id of wanted) {
      let w = this.watched.get(id)
      if (w == null) {
        try {
          w = { peer: peerIdFromString(id), opening: false }
        } catch {
          continue // an id the table let through that is not a peer id: never heard, like any other silence
        }
        this.watched.set(id, w)
      }
      // no dial here: MemberConnections keeps the members this node watches connected
      const connection = this.init.libp2p.getConnections(w.peer)[0]
      if (connection == null || w.opening) continue
      if (w.pingOnlyOn === connection) { ping.push(id); continue }
      if (w.line != null && !w.line.closed && w.line.connection === connection) continue
      w.line?.close()
      w.line = undefined
      void this.open(id, w, connection)
    }
    return ping
  }

  private async open (id: string, w: Watched, connection: Connection): Promise<void> {
    w.opening = true
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)])
      const line = await BeatLine.open(connection, this.init.periodMs, incarnation => { this.init.onBeat(id, incarnation) }, { signal })
      if (this.watched.get(id) === w && !this.abort.signal.aborted) {
        w.line = line
        this.init.onLine?.(id)
      } else line.close()
    } catch (err) {
      if ((err as Error).name === 'UnsupportedProtocolError') w.pingOnlyOn = connection
      this.init.log.trace({ member: id, err }, 'beat line not opened')
    } finally {
      w.opening = false
    }
  }

  /** A watcher's line: its request, a beat at once, then one each period it asked for until it closes the line. */
  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const json = new JsonStream(stream, { maxBytes: MAX_BEAT_BYTES })
    const subscriber: Subscriber = { json, writing: false }
    try {
      const request = await json.read(beatRequestSchema, { signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) })
      this.send(subscriber)
      subscriber.timer = setInterval(() => { this.send(subscriber) }, Math.max(MIN_BEAT_MS, request.everyMs))
      subscriber.timer.unref()
      this.subscribers.add(subscriber)
      // the watcher says nothing more: this read ends when it closes the line
      await json.read(v.unknown(), { signal: this.abort.signal })
      throw new ProtocolError('a watcher spoke on its beat line after its request')
    } catch (err) {
      const name = (err as Error).name
      if (name === 'UnexpectedEOFError' || name === 'AbortError') { await json.close({ signal: AbortSignal.timeout(LINE_CLOSE_TIMEOUT_MS) }); return }
      // the watcher's fault (a bad request, a word after it: ProtocolError) is malformed; a line reset or
      // closed under a beat (its connection cut, as by a partition) is the network's, counted as a failure
      this.init.rejections.reject(BEAT_PROTOCOL, streamFailure(err), connection.remotePeer.toString(), 'dropped a member beat line', String(err), { err })
      stream.abort(err as Error)
    } finally {
      clearInterval(subscriber.timer)
      this.subscribers.delete(subscriber)
    }
  }

  /** One beat; none while the last is still being written (a watcher not reading must not pile them up here). */
  private send (subscriber: Subscriber): void {
    if (subscriber.writing) return
    subscriber.writing = true
    subscriber.json.write({ v: 1, incarnation: this.init.incarnation() }, { signal: this.abort.signal })
      .catch(err => { subscriber.json.stream.abort(err as Error) })
      .finally(() => { subscriber.writing = false })
  }
}
