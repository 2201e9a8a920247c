import { NotSerializableError } from '../errors.ts'
import type { GridError } from '../errors.ts'

const encoder = new TextEncoder()

/** A batch message as JSON text around its array of entries: `{"type":"results","results":` + `[…]` + `}`. */
export interface BatchShape {
  prefix: string
  suffix: string
  /** What an entry carries, for errors: `item` or `result`. */
  what: string
}

/**
 * What goes in place of an entry the batch cannot carry (JSON cannot encode it: a BigInt, a cycle):
 * an entry of its own (an error result), or undefined to leave it out (the caller fails it itself).
 */
export type Misfit<T> = (entry: T, err: GridError) => T | undefined

/**
 * A batch of entries as UTF-8 JSON messages. The whole batch is encoded at once (the common case: one
 * JSON.stringify, as before). If that throws, each entry is encoded alone and one that fails is given to
 * `misfit`, so one bad value fails its own item, not every item of the batch with it.
 */
export function encodeBatch<T> (entries: T[], shape: BatchShape, misfit: Misfit<T>): Uint8Array[] {
  try {
    return [encoder.encode(shape.prefix + JSON.stringify(entries) + shape.suffix)]
  } catch {
    // one entry (or more) JSON cannot encode: find them one by one
  }
  const parts: string[] = []
  for (const entry of entries) {
    const json = encodeEntry(entry, shape, misfit)
    if (json != null) parts.push(json)
  }
  return parts.length === 0 ? [] : [encoder.encode(`${shape.prefix}[${parts.join(',')}]${shape.suffix}`)]
}

function encodeEntry<T> (entry: T, shape: BatchShape, misfit: Misfit<T>): string | undefined {
  try {
    return JSON.stringify(entry)
  } catch (cause) {
    const replacement = misfit(entry, new NotSerializableError(shape.what, cause))
    // a replacement is the caller's own small entry (an error result): JSON takes it
    return replacement === undefined ? undefined : JSON.stringify(replacement)
  }
}
