import { NotSerializableError } from '../errors.ts'
import type { SinkItem, SinkRefusal } from './types.ts'

/** How a sink turns a value into what it stores. */
export type Encode = (value: unknown) => string

/**
 * Encodes a batch item by item: a value the encoder cannot take (a BigInt or a cycle for JSON.stringify,
 * a custom encode that throws, one that gives no string) is refused alone (NotSerializableError), so
 * one result a local worker's structured-clone IPC carried (`1n`) does not fail every other item with it,
 * nor, the batch's entries left pending, the runs that read them again.
 */
export function encodeItems<T> (items: Array<SinkItem<T>>, encode: Encode): { encoded: Array<{ id: string, text: string | Uint8Array }>, refused: SinkRefusal[] } {
  const encoded: Array<{ id: string, text: string | Uint8Array }> = []
  const refused: SinkRefusal[] = []
  for (const item of items) {
    let text: unknown
    try {
      text = encode(item.value)
    } catch (err) {
      refused.push({ id: item.id, error: new NotSerializableError('the result', err, 'cannot be encoded for the sink') })
      continue
    }
    if (typeof text === 'string' || text instanceof Uint8Array) encoded.push({ id: item.id, text })
    else refused.push({ id: item.id, error: new NotSerializableError('the result', undefined, `cannot be encoded for the sink (encoded to ${typeof text}, not a string)`) })
  }
  return { encoded, refused }
}
