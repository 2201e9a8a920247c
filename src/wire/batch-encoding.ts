import { ItemTooLargeError, NotSerializableError } from '../errors.ts'
import type { GridError } from '../errors.ts'

const encoder = new TextEncoder()

/** A batch message as JSON text around its array of entries: `{"type":"results","results":` + `[…]` + `}`. */
export interface BatchShape {
  prefix: string
  suffix: string
  /** What an entry carries, for errors: `item` or `result`. */
  what: string
  /** The largest message the reader takes (UTF-8 bytes). */
  maxBytes: number
}

/**
 * What goes in place of an entry the batch cannot carry (JSON cannot encode it: a BigInt, a cycle; or it
 * is over the message limit alone): an entry of its own (an error result), or undefined to leave it out
 * (the caller fails it itself).
 */
export type Misfit<T> = (entry: T, err: GridError) => T | undefined

/**
 * A batch of entries as UTF-8 JSON messages of at most `maxBytes` each: a reader closes a stream that
 * sends a larger one, and every item on it would run again elsewhere, as after a lost agent. The whole
 * batch is encoded at once (the common case: one JSON.stringify, as before). If that throws or is over
 * the limit, each entry is encoded alone and the entries are packed into as many messages as they need;
 * one that JSON cannot encode or that is over the limit alone is given to `misfit`, so a bad value fails
 * its own item, not every item of its batch with it.
 */
export function encodeBatch<T> (entries: T[], shape: BatchShape, misfit: Misfit<T>): Uint8Array[] {
  return encodeBatchGroups(entries, shape, misfit).map(group => group.message)
}

/** One message of a batch and the entries it carries (a misfit's replacement in its place; one left out, not). */
export interface EncodedGroup<T> { message: Uint8Array, entries: T[] }

/** encodeBatch, saying which entries each message carries (a requester counts its items' bytes in flight by message). */
export function encodeBatchGroups<T> (entries: T[], shape: BatchShape, misfit: Misfit<T>): Array<EncodedGroup<T>> {
  let text: string | undefined
  try {
    text = shape.prefix + JSON.stringify(entries) + shape.suffix
  } catch {
    // one entry (or more) JSON cannot encode: found one by one below
  }
  // UTF-8 takes at least a byte per UTF-16 unit: a longer text is over the limit without encoding it
  if (text !== undefined && text.length <= shape.maxBytes) {
    const message = encoder.encode(text)
    if (message.byteLength <= shape.maxBytes) return [{ message, entries }]
  }
  return packed(entries, shape, misfit)
}

interface Encoded<T> { json: string, bytes: number, entry: T }

function packed<T> (entries: T[], shape: BatchShape, misfit: Misfit<T>): Array<EncodedGroup<T>> {
  // what one message has for entries: the limit less its prefix, suffix and the array's brackets
  const room = shape.maxBytes - Buffer.byteLength(shape.prefix) - Buffer.byteLength(shape.suffix) - 2
  const messages: Array<EncodedGroup<T>> = []
  let parts: string[] = []
  let carried: T[] = []
  let used = 0
  const flush = (): void => {
    if (parts.length === 0) return
    messages.push({ message: encoder.encode(`${shape.prefix}[${parts.join(',')}]${shape.suffix}`), entries: carried })
    parts = []
    carried = []
    used = 0
  }
  for (const entry of entries) {
    const encoded = encodeEntry(entry, shape, room, misfit)
    if (encoded == null) continue
    // a comma before every entry but a message's first
    if (parts.length > 0 && used + 1 + encoded.bytes > room) flush()
    used += (parts.length > 0 ? 1 : 0) + encoded.bytes
    parts.push(encoded.json)
    carried.push(encoded.entry)
  }
  flush()
  return messages
}

function encodeEntry<T> (entry: T, shape: BatchShape, room: number, misfit: Misfit<T>): Encoded<T> | undefined {
  let err: GridError
  try {
    const json = JSON.stringify(entry)
    const bytes = Buffer.byteLength(json)
    if (bytes <= room) return { json, bytes, entry }
    err = new ItemTooLargeError(shape.what, bytes, room)
  } catch (cause) {
    err = new NotSerializableError(shape.what, cause)
  }
  const replacement = misfit(entry, err)
  if (replacement === undefined) return undefined
  // a replacement is the caller's own small entry (an error result, bounded by toWireError): it fits
  const json = JSON.stringify(replacement)
  return { json, bytes: Buffer.byteLength(json), entry: replacement }
}
