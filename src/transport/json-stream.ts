import { lpStream } from '@libp2p/utils'
import type { Stream, Libp2p, AbortOptions, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import * as v from 'valibot'
import type { Uint8ArrayList } from 'uint8arraylist'
import { decode, encodingLength } from 'uint8-varint'
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
  private readonly lp: ReturnType<typeof lpStream<Stream>>
  private readonly maxBytes: number
  readonly stream: Stream
  /** The release of the budget charged for the message being read. */
  private charged?: () => void
  /** The limit of the message being read, when its read lowered the stream's. */
  private limit?: number
  private readonly budget?: PeerReadBudget

  constructor (stream: Stream, options: JsonStreamOptions = {}) {
    this.stream = stream
    this.maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES
    this.budget = options.budget
    // the reader buffers a whole message before it returns it, and libp2p's default buffer (4 MiB) reset any
    // stream whose message was larger, whatever maxBytes said: room for a message and the next arriving
    this.lp = lpStream(stream, { maxDataLength: this.maxBytes, maxBufferSize: Math.max(MIN_READ_BUFFER_BYTES, 2 * this.maxBytes), lengthDecoder: boundedLength(this.maxBytes, length => { this.announced(length) }) })
  }

  async write (value: unknown, options?: AbortOptions): Promise<void> {
    await this.lp.write(encoder.encode(JSON.stringify(value)), options)
  }

  /** A message already encoded as UTF-8 JSON (see wire/batch-encoding.ts). */
  async writeEncoded (bytes: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.lp.write(bytes, options)
  }

  /** A message's length, read from its prefix before its body: over this read's limit it is refused, else charged to the budget. */
  private announced (length: number): void {
    if (this.limit != null && length > this.limit) throw new ProtocolError(`message of ${length} bytes, larger than the ${this.limit} bytes allowed for it`)
    if (this.budget != null) this.charged = this.budget.take(length)
  }

  async read<S extends Schema> (schema: S, options?: JsonReadOptions): Promise<v.InferOutput<S>> {
    this.limit = options?.maxBytes
    try {
      let raw
      try {
        raw = await this.lp.read(options)
      } catch (err) {
        if ((err as Error).name === 'InvalidDataLengthError') throw new ProtocolError(`message larger than the ${this.maxBytes} byte limit`, { cause: err })
        throw err
      }
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

  /** Reads nothing more: what the peer sends from now on is dropped, not buffered (a refused request's body). */
  async endRead (): Promise<void> {
    await this.stream.closeRead().catch(() => {})
  }

  async close (options?: AbortOptions): Promise<void> {
    await this.stream.close(options).catch(() => { this.stream.abort(new Error('close failed')) })
  }
}

/**
 * libp2p's varint length decoder, bounded by the prefix `maxBytes` needs: libp2p reads a prefix a byte at a
 * time until it decodes and checks its length only then, so a prefix that never ends (every byte with its
 * continuation bit) was read and kept without end, whatever maxBytes said. `charge` is given the length once
 * the prefix decodes, before the body is read.
 */
function boundedLength (maxBytes: number, charge?: (length: number) => void): (data: Uint8ArrayList) => number {
  const prefixBytes = encodingLength(maxBytes)
  return data => {
    if (data.byteLength > prefixBytes) throw new ProtocolError(`message length prefix longer than the ${prefixBytes} bytes of the ${maxBytes} byte limit`)
    // a RangeError for a prefix not complete yet: libp2p reads another byte
    const length = decode(data)
    // one over maxBytes is refused by libp2p next, uncharged
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
  try {
    await json.write(request ?? {}, options)
    // nothing is read after the response, nor after a response refused (its body dropped as it comes)
    return await json.readLast(schema, options)
  } finally {
    await json.close(options)
  }
}
