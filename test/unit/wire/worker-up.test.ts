import { describe, it, expect } from 'vitest'
import * as v from 'valibot'
import { MAX_ITEMS_IN_FLIGHT, workerUpSchema } from '../../../src/wire/spawn-protocol.ts'
import { parseJson } from '../../../src/transport/json-stream.ts'

const batch = (...items: unknown[]): unknown => ({ type: 'batch', items })

describe('workerUpSchema: a batch is checked by hand, as its schema would', () => {
  it('keeps n, item and task of each item and drops other keys, of the batch too', () => {
    expect(v.parse(workerUpSchema, { ...batch({ n: 0, item: { x: 1 } }, { n: 1, item: null, task: true, extra: 1 }, { n: 2, item: [1] }) as object, more: 'x' }))
      .toEqual(batch({ n: 0, item: { x: 1 } }, { n: 1, item: null, task: true }, { n: 2, item: [1] }))
    // no item key: an undefined item (JSON has none), as its schema reads it
    expect(v.parse(workerUpSchema, batch({ n: 3 }))).toEqual(batch({ n: 3, item: undefined }))
    expect(v.parse(workerUpSchema, { type: 'attach', id: 'w-0123456789ab' })).toEqual({ type: 'attach', id: 'w-0123456789ab' })
    expect(v.parse(workerUpSchema, { type: 'cancel', n: [1, 2] })).toEqual({ type: 'cancel', n: [1, 2] })
  })

  it('refuses what the schema refuses, naming the problem', () => {
    for (const bad of [
      batch({ n: -1, item: 1 }),
      batch({ n: 1.5, item: 1 }),
      batch({ n: '1', item: 1 }),
      batch({ n: 1, item: 1, task: false }),
      batch({ n: 1, item: 1, task: null }),
      batch(null),
      batch('text'),
      { type: 'batch', items: 'nope' },
      { type: 'batch' },
      { type: 'batch', items: Array.from({ length: MAX_ITEMS_IN_FLIGHT + 1 }, (_, n) => ({ n, item: n })) },
      { type: 'attach', id: 'not an id' },
      { type: 'other' },
      null,
      []
    ]) {
      expect(v.safeParse(workerUpSchema, bad).success, JSON.stringify(bad).slice(0, 80)).toBe(false)
    }
    expect(() => parseJson(JSON.stringify(batch({ n: 0, item: 1 }, { n: -1, item: 2 })), workerUpSchema)).toThrow(/items\.1\.n/)
  })
})
