import { it, expect, expectTypeOf } from 'vitest'
import { defineStage } from '../../../src/index.ts'
import type { StageContext, StageOutput } from '../../../src/index.ts'

const ctx: StageContext = { stage: 'split', workerId: 'w-1', env: {} }

// Checked by `tsc` (vitest strips types): README's "a stage returning an array fans out; returning undefined
// drops the item" must type-check in a stage typed with defineStage<In, Out>, Out being one result (what the
// sink gets). `process` was typed `Out | Promise<Out>`: both were type errors under tsc --strict.
it('a typed stage may fan out (an array of results) or drop an item (undefined)', async () => {
  const split = defineStage<string, string>({
    process: line => line === '' ? undefined : line.split(',')
  })
  const double = defineStage<number, number>({
    async process (n) { return n < 0 ? undefined : n * 2 }
  })
  expect(await split.process('a,b', ctx)).toEqual(['a', 'b'])
  expect(await split.process('', ctx)).toBeUndefined()
  expect(await double.process(2, ctx)).toBe(4)
  expectTypeOf(split.process).returns.toEqualTypeOf<StageOutput<string> | Promise<StageOutput<string>>>()
  expectTypeOf<StageOutput<number>>().toEqualTypeOf<number | readonly number[] | undefined>()
})
