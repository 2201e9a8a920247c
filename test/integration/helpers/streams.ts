import { expect } from 'vitest'
import type { Redis } from 'ioredis'

/** Appends from..to to `stream` (JSON in field `v`, as the sink writes), pipelined in chunks of 1000. */
export async function produce (redis: Redis, stream: string, n: number, from = 1): Promise<void> {
  for (let start = from; start < from + n; start += 1000) {
    const batch = redis.pipeline()
    for (let i = start; i < Math.min(start + 1000, from + n); i++) batch.xadd(stream, '*', 'v', String(i))
    await batch.exec()
  }
}

/** What the sink wrote: item id -> how many entries carry it, and the values by id. */
export async function output (redis: Redis, stream: string): Promise<{ counts: Map<string, number>, values: Map<string, number> }> {
  const counts = new Map<string, number>()
  const values = new Map<string, number>()
  for (const [, fields] of await redis.xrange(stream, '-', '+')) {
    const id = fields[fields.indexOf('id') + 1]!
    counts.set(id, (counts.get(id) ?? 0) + 1)
    values.set(id, JSON.parse(fields[fields.indexOf('v') + 1]!) as number)
  }
  return { counts, values }
}

/** The item ids entries of `stream` read by `group` produce through fan-out.mjs, with `factor` × the value: `<scope><entry>`, or `<scope><entry>.0` and `.1` (the scope: `<stream>/<group>/`). */
export async function expectedIds (redis: Redis, stream: string, factor = 2, group = 'g'): Promise<Map<string, number>> {
  const expected = new Map<string, number>()
  const scope = `${encodeURIComponent(stream)}/${encodeURIComponent(group)}/`
  for (const [entry, fields] of await redis.xrange(stream, '-', '+')) {
    const entryId = scope + entry
    const n = Number(fields[1])
    if (n % 4 === 0) {
      expected.set(`${entryId}.0`, n * factor)
      expected.set(`${entryId}.1`, -n * factor)
    } else {
      expected.set(entryId, n * factor)
    }
  }
  return expected
}

export async function pendingCount (redis: Redis, stream: string, group: string): Promise<number> {
  const summary = await redis.xpending(stream, group) as [number, ...unknown[]]
  return Number(summary[0])
}

export function expectExactlyOnce (counts: Map<string, number>, values: Map<string, number>, expected: Map<string, number>): void {
  const duplicated = [...counts].filter(([, c]) => c !== 1)
  expect(duplicated, 'ids written more than once').toEqual([])
  expect(counts.size).toBe(expected.size)
  for (const [id, value] of expected) expect(values.get(id), id).toBe(value)
}
