import { ResultTooLargeError } from '../errors.ts'

/** Default `tasks.maxResultBytes`: the largest result (as JSON) an owner keeps and journals. */
export const DEFAULT_MAX_RESULT_BYTES = 16 * 1024 * 1024
/** Answers carrying results one peer (or API subject) has not read yet, at most: four of the largest (UnsentReplies). */
export const MAX_UNSENT_REPLY_BYTES = 4 * DEFAULT_MAX_RESULT_BYTES

/**
 * A result as the journal stores it: its JSON text, or null for `undefined` (JSON has none).
 * Throws ResultTooLargeError over `maxBytes` (UTF-8), and whatever JSON.stringify throws
 * (a BigInt, a cycle: a value the journal could not give back after a restart).
 */
export function encodeResult (taskId: string, value: unknown, maxBytes: number): string | null {
  const json = JSON.stringify(value) as string | undefined
  if (json == null) return null
  checkSize(taskId, json, maxBytes)
  return json
}

/** The cap alone, for a node without a journal: a value JSON cannot encode is not measured (it came from a local worker). */
export function checkResultSize (taskId: string, value: unknown, maxBytes: number): void {
  let json: string | undefined
  try {
    json = JSON.stringify(value) as string | undefined
  } catch {
    return
  }
  if (json != null) checkSize(taskId, json, maxBytes)
}

function checkSize (taskId: string, json: string, maxBytes: number): void {
  // UTF-8 takes 1 to 3 bytes per UTF-16 unit: count bytes only when the length cannot decide
  if (json.length * 3 <= maxBytes) return
  const bytes = Buffer.byteLength(json)
  if (bytes > maxBytes) throw new ResultTooLargeError(taskId, `its result is ${bytes} bytes as JSON, over tasks.maxResultBytes (${maxBytes})`)
}
