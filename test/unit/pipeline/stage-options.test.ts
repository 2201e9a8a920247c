import { it, expect } from 'vitest'
import { resolvePipelineOptions } from '../../../src/pipeline/config.ts'
import { ConfigError } from '../../../src/errors.ts'
import type { StageSpec } from '../../../src/pipeline/types.ts'

const resolve = (stage: Partial<StageSpec>): ReturnType<typeof resolvePipelineOptions> =>
  resolvePipelineOptions({ stages: [{ name: 's', module: 's.mjs', ...stage }], sink: () => {} })

it('spareWorkers: 0 unless given, a whole number of workers', () => {
  expect(resolve({}).stages[0]!.spareWorkers).toBe(0)
  expect(resolve({ spareWorkers: 2 }).stages[0]!.spareWorkers).toBe(2)
  for (const bad of [-1, 1.5, Number.NaN]) {
    expect(() => resolve({ spareWorkers: bad })).toThrow(ConfigError)
    expect(() => resolve({ spareWorkers: bad })).toThrow(/stages\[0\]\.spareWorkers/)
  }
})
