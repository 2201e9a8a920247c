import { byteStream } from '@libp2p/utils'
import type { Stream, Libp2p, AbortOptions, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import * as v from 'valibot'
import { Uint8ArrayList } from 'uint8arraylist'
import { decode, encode, encodingLength } from 'uint8-varint'
import { ProtocolError } from '../errors.ts'
import { refusalOf } from '../trust/refusal.ts'
import type { PeerReadBudget } from './read-budget.ts'

/** Any synchronous valibot schema. */
export type Schema = v.GenericSchema

/** No gridd control message needs more; anything larger is refused before parsing. */
export const MAX_MESSAGE_BYTES = 1024 * 1024
/** libp2p's byte buffer under a length-prefixed reader (its default): a message must fit in it whole. */
const MIN_READ_BUFFER_BYTES = 4 * 1024 * 1024
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * How long a stream whose request was read and answered may stay open for the peer to close its end. A peer
 * that never did kept the stream, and its slot among the protocol's streams on that connection, until the
 * connection closed; it is reset then. What was written before goes first: the reset follows it on the wire.
 * As long as the read deadline of a large request (10 s): a client still sending the body of a request refused
 * from its length prefix, as fast as an accepted one must come, reads its refusal before the reset.
 */
export const PEER_CLOSE_MS = 10_000

/** One read's options: `maxBytes` lowers the stream's limit for this message (a first message that is small by nature). */
export interface JsonReadOptions extends AbortOptions {
  maxBytes?: number
}

export interface JsonStreamOptions extends AbortOptions {
  maxBytes?: number
  /** Charged each message's length as soon as its prefix is read, until it is parsed: a refusal (RateLimitedError) fails the read before its body is buffered. */
  budget?: PeerReadBudget
}

/**
 * One request, one response over a libp2p stream: length-prefixed JSON, size
 * limited, schema-checked on receipt. The building block of gridd's control
 * protocols (status, membership sync, control).
 */
export class JsonStream {
  private readonly bytes: ReturnType<typeof byteStream<Stream>>
  /** What the peer sent that no read has taken yet: byteStream's own buffer (at run time, not in its types). */
  private readonly unread: Uint8ArrayList
  private readonly maxBytes: number
  private readonly decodeLength: (prefix: Uint8ArrayList) => number
  readonly stream: Stream
  /** The release of the budget charged for the message being read. */
  private charged?: () => void
  /** The limit of the message being read, when its read lowered the stream's. */
  private limit?: number
  private readonly budget?: PeerReadBudget
  /** The body length of the message the last read returned (what a worker stream's batch is charged). */
  lastBytes = 0
  /** Nothing more is read (endRead): once closed, the stream waits only for the peer's close. */
  private readEnded = false

  constructor (stream: Stream, options: JsonStreamOptions = {}) {
    this.stream = stream
    this.maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES
    this.budget = options.budget
    // the reader buffers a whole message before it returns it, and libp2p's default buffer (4 MiB) reset any
    // stream whose message was larger, whatever maxBytes said: room for a message and the next arriving
    this.bytes = byteStream(stream, { maxBufferSize: Math.max(MIN_READ_BUFFER_BYTES, 2 * this.maxBytes) })
    const unread = (this.bytes as { readBuffer?: unknown }).readBuffer
    // @libp2p/utils 7 keeps it there: an upgrade that moves it must not silently keep what endRead should drop
    if (!(unread instanceof Uint8ArrayList)) throw new TypeError('@libp2p/utils byteStream has no readBuffer: JsonStream cannot drop what it leaves unread')
    this.unread = unread
    this.decodeLength = boundedLength(this.maxBytes, length => { this.announced(length) })
  }

  async write (value: unknown, options?: AbortOptions): Promise<void> {
    await this.writeEncoded(encoder.encode(JSON.stringify(value)), options)
  }

  /** A message already encoded as UTF-8 JSON (see wire/batch-encoding.ts). */
  async writeEncoded (bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.bytes.write(new Uint8ArrayList(encode(bytes.byteLength), bytes), options)
  }

  /** A message's length, read from its prefix before its body: over this read's limit it is refused, else charged to the budget. */
  private announced (length: number): void {
    if (this.limit != null && length > this.limit) throw new ProtocolError(`message of ${length} bytes, larger than the ${this.limit} bytes allowed for it`)
    if (this.budget != null) this.charged = this.budget.take(length)
  }

  /** One length-prefixed message's body, its prefix read a byte at a time (nothing past it is taken from the buffer). */
  private async readMessage (options?: AbortOptions): Promise<Uint8ArrayList> {
    const prefix = new Uint8ArrayList()
    let length = -1
    while (length < 0) {
      prefix.append(await this.bytes.read({ ...options, bytes: 1 }))
      try {
        length = this.decodeLength(prefix)
      } catch (err) {
        // a prefix not complete yet
        if (!(err instanceof RangeError)) throw err
      }
    }
    if (length > this.maxBytes) throw new ProtocolError(`message larger than the ${this.maxBytes} byte limit`)
    return await this.bytes.read({ ...options, bytes: length })
  }

  async read<S extends Schema> (schema: S, options?: JsonReadOptions): Promise<v.InferOutput<S>> {
    this.limit = options?.maxBytes
    try {
      const raw = await this.readMessage(options)
      this.lastBytes = raw.byteLength
      return parseJson(decoder.decode(raw.subarray()), schema)
    } finally {
      this.charged?.()
      this.charged = undefined
      this.limit = undefined
    }
  }

  /**
   * A request/response protocol's one request: read, then nothing more is read from the stream (its readable
   * end closed), so what the peer sends after it is dropped as it comes. Left readable, the stream buffered
   * it (up to twice maxBytes, and at least 4 MiB) for as long as the answer took: a `wait`, a minute.
   */
  async readLast<S extends Schema> (schema: S, options?: JsonReadOptions): Promise<v.InferOutput<S>> {
    try {
      return await this.read(schema, options)
    } finally {
      await this.endRead()
    }
  }

  /**
   * Reads nothing more: what the peer sends from now on is dropped, not buffered (a refused request's body),
   * and so is what came already, behind the message read (in the same frames): it stayed referenced for as
   * long as the handler ran, pinning the frames' buffers too.
   */
  async endRead (): Promise<void> {
    this.readEnded = true
    this.unread.consume(this.unread.byteLength)
    await this.stream.closeRead().catch(() => {})
  }

  async close (options?: AbortOptions): Promise<void> {
    await this.stream.close(options).catch(() => { this.stream.abort(new Error('close failed')) })
    if (this.readEnded) resetUnlessClosed(this.stream, PEER_CLOSE_MS)
  }
}

/** Resets `stream` if the peer has not closed its end within `ms` (every read and write of ours done). */
function resetUnlessClosed (stream: Stream, ms: number): void {
  if (stream.status !== 'open') return
  const timer = setTimeout(() => { stream.abort(new ProtocolError(`stream left open by the peer ${ms} ms after its answer`)) }, ms)
  timer.unref()
  stream.addEventListener('close', () => { clearTimeout(timer) }, { once: true })
}

/**
 * A varint length decoder bounded by the prefix `maxBytes` needs: libp2p's reader read a prefix a byte at a
 * time until it decoded and checked its length only then, so a prefix that never ends (every byte with its
 * continuation bit) was read and kept without end, whatever maxBytes said. `charge` is given the length once
 * the prefix decodes, before the body is read.
 */
function boundedLength (maxBytes: number, charge?: (length: number) => void): (data: Uint8ArrayList) => number {
  const prefixBytes = encodingLength(maxBytes)
  return data => {
    if (data.byteLength > prefixBytes) throw new ProtocolError(`message length prefix longer than the ${prefixBytes} bytes of the ${maxBytes} byte limit`)
    // a RangeError for a prefix not complete yet: another byte is read
    const length = decode(data)
    // one over maxBytes is refused next, uncharged
    if (length <= maxBytes) charge?.(length)
    return length
  }
}

/** Parses and validates untrusted JSON text; throws ProtocolError naming the first problem. */
export function parseJson<S extends Schema> (text: string, schema: S): v.InferOutput<S> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ProtocolError('message is not valid JSON', { cause: err })
  }
  // a guarded protocol refused this peer: say so rather than "does not match its schema"
  const refusal = refusalOf(value)
  if (refusal != null) throw refusal
  return checkMessage(value, schema)
}

/** What a schema refusal quotes of the problem at most: valibot's messages quote the value received, whole. */
const MAX_ISSUE_CHARS = 200

/** An issue's message cut to MAX_ISSUE_CHARS: it is logged where the message is refused (each refusal, detail and err). */
export function issueText (message: string): string {
  return message.length <= MAX_ISSUE_CHARS ? message : `${message.slice(0, MAX_ISSUE_CHARS - 1)}…`
}

/** Validates a parsed message against `schema`; throws ProtocolError naming the first problem. */
export function checkMessage<S extends Schema> (value: unknown, schema: S): v.InferOutput<S> {
  // stop a pipe at its first failed check: a later one (a peer-id parse, a regex) may be costly on hostile input
  const result = v.safeParse(schema, value, { abortPipeEarly: true })
  if (!result.success) {
    const issue = result.issues[0]
    throw new ProtocolError(`message does not match its schema: ${v.getDotPath(issue) ?? ''} ${issueText(issue.message)}`.trim())
  }
  return result.output
}

/** Opens `protocol` on `target`, sends `request` (if any) and reads one response (at most `maxBytes`). */
export async function requestJson<S extends Schema> (libp2p: Libp2p, target: PeerId | Multiaddr, protocol: string, request: unknown, schema: S, options: JsonStreamOptions = {}): Promise<v.InferOutput<S>> {
  const stream = await libp2p.dialProtocol(target, protocol, options)
  const json = new JsonStream(stream, options)
  let response: v.InferOutput<S>
  try {
    await json.write(request ?? {}, options)
    // nothing is read after the response
    response = await json.readLast(schema, options)
  } catch (err) {
    // a response refused (its budget, its size, its schema) or not come in time: reset, so the peer stops
    // sending it; closed, the stream dropped it as it came, and the peer sent it all (a relayed answer: 64 MiB)
    stream.abort(err as Error)
    throw err
  }
  await json.close(options)
  return response
}
