import { describe, it, expect } from 'vitest'
import * as v from 'valibot'
import { workerDownSchema } from '../../../src/wire/spawn-protocol.ts'

const results = (...entries: unknown[]): unknown => ({ type: 'results', results: entries })

describe('workerDownSchema: results entries are checked by the schema their keys name', () => {
  it('parses values, errors, started and progress notices to their own shapes', () => {
    const parsed = v.parse(workerDownSchema, results(
      { n: 0, value: { x: 1 } },
      { n: 1, error: { name: 'RangeError', message: 'no' } },
      { n: 2, notice: 'started' },
      { n: 3, notice: 'progress', value: 50 },
      { n: 4, value: null },
      // a result of undefined: JSON leaves the key out (this broke the worker's stream before)
      { n: 5 }
    ))
    expect(parsed).toEqual(results(
      { n: 0, value: { x: 1 } },
      { n: 1, error: { name: 'RangeError', message: 'no' } },
      { n: 2, notice: 'started' },
      { n: 3, notice: 'progress', value: 50 },
      { n: 4, value: null },
      { n: 5, value: undefined }
    ))
  })

  it('strips keys of no schema, and refuses a malformed entry of any kind', () => {
    expect(v.parse(workerDownSchema, results({ n: 1, value: 2, extra: 'x' }))).toEqual(results({ n: 1, value: 2 }))
    for (const bad of [
      { n: -1, value: 1 },
      { n: 1.5, value: 1 },
      { value: 1 },
      { n: 1, error: 'not an error object' },
      { n: 1, error: { message: 3 } },
      { n: 1, notice: 'finished' },
      null,
      'text'
    ]) {
      expect(v.safeParse(workerDownSchema, results({ n: 0, value: 0 }, bad)).success, JSON.stringify(bad)).toBe(false)
    }
  })
})
