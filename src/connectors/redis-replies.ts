/**
 * Redis replies are network data: each is checked for the shape the command
 * documents before anything reads it, and a value is size-limited before it
 * is parsed. What does not fit is reported, never thrown past the connector.
 */

/** One stream entry as XREADGROUP / XAUTOCLAIM return it; `fields` null when the entry was deleted meanwhile. */
export interface StreamEntry {
  id: string
  fields: string[] | null
}

const ENTRY_ID = /^\d{1,20}-\d{1,20}$/

function entry (raw: unknown): StreamEntry | undefined {
  if (!Array.isArray(raw) || raw.length !== 2) return undefined
  const [id, fields] = raw as [unknown, unknown]
  if (typeof id !== 'string' || !ENTRY_ID.test(id)) return undefined
  if (fields === null) return { id, fields: null }
  if (!Array.isArray(fields) || fields.length % 2 !== 0 || !fields.every(f => typeof f === 'string')) return undefined
  return { id, fields: fields as string[] }
}

function entries (raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) throw new TypeError('stream entries: not an array')
  return raw.map(r => {
    const e = entry(r)
    if (e == null) throw new TypeError('stream entries: an entry that is not [id, [field, value, …]]')
    return e
  })
}

/** XREADGROUP's reply for one stream: `[[stream, entries]]`, or null when nothing came. */
export function readGroupReply (raw: unknown): StreamEntry[] {
  if (raw == null) return []
  if (!Array.isArray(raw) || raw.length !== 1 || !Array.isArray(raw[0]) || raw[0].length !== 2) throw new TypeError('XREADGROUP: unexpected reply shape')
  return entries(raw[0][1])
}

/**
 * XAUTOCLAIM's reply: `[next cursor, entries, deleted ids]` (Redis 7). Redis 6.2
 * answers a pending entry that was deleted or trimmed with a bare nil instead of
 * `[id, nil]` (redis/redis#10227): it carries no id to acknowledge, so it is
 * skipped and counted in `vanished` (it stays pending; Redis 7 drops such ones itself).
 */
export function autoClaimReply (raw: unknown): { next: string, claimed: StreamEntry[], vanished: number } {
  if (!Array.isArray(raw) || raw.length < 2 || typeof raw[0] !== 'string') throw new TypeError('XAUTOCLAIM: unexpected reply shape')
  if (!Array.isArray(raw[1])) throw new TypeError('XAUTOCLAIM: entries are not an array')
  const present = (raw[1] as unknown[]).filter(r => r !== null)
  return { next: raw[0], claimed: entries(present), vanished: raw[1].length - present.length }
}

/** A field's value from a flat `[field, value, …]` list. */
export function field (fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

/** The default decoding: JSON in field `v` (what redisStreamSink writes), else the fields as an object. */
export function decodeEntry (fields: string[], maxValueBytes: number): unknown {
  const v = field(fields, 'v')
  if (v == null) {
    const value: Record<string, string> = {}
    for (let i = 0; i < fields.length; i += 2) value[fields[i]!] = fields[i + 1]!
    return value
  }
  if (Buffer.byteLength(v) > maxValueBytes) throw new RangeError(`value of ${Buffer.byteLength(v)} bytes is over the ${maxValueBytes}-byte limit`)
  return JSON.parse(v)
}
