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

it('resources are checked when the pipeline is made, not first by the equalizer at its first tick', () => {
  expect(resolve({ resources: { cpu: 0.5, memoryMb: 256 } }).stages[0]!.resources).toEqual({ cpu: 0.5, memoryMb: 256 })
  expect(resolve({ resources: {} }).stages[0]!.resources).toEqual({})
  for (const [bad, where] of [[{ cpu: -1 }, /stages\[0\]\.resources\.cpu/], [{ memoryMb: Number.NaN }, /stages\[0\]\.resources\.memoryMb/], [5, /stages\[0\]\.resources/]] as const) {
    // minWorkers 0: no spawn would have met the bad request first
    expect(() => resolve({ minWorkers: 0, resources: bad as StageSpec['resources'] })).toThrow(ConfigError)
    expect(() => resolve({ minWorkers: 0, resources: bad as StageSpec['resources'] })).toThrow(where)
  }
})

it('an unknown key (a typo) in the options or a stage is a ConfigError naming it, not silently left at its default', () => {
  expect(() => resolvePipelineOptions({ stages: [{ name: 's', module: 's.mjs' }], sink: () => {}, maxAtempts: 5 } as never)).toThrow(/^maxAtempts: unknown option/)
  expect(() => resolve({ maxWorker: 2 } as never)).toThrow(/^stages\[0\]\.maxWorker: unknown option/)
  // in resources too: `cpus` asked for nothing, and the worker was placed as if it needed one slot
  expect(() => resolve({ resources: { cpus: 4 } } as never)).toThrow(/^stages\[0\]\.resources\.cpus: unknown option \(known: cpu, memoryMb\)/)
})

it('options that are not an object (a JS caller) are a ConfigError, not a TypeError', () => {
  expect(() => resolvePipelineOptions(undefined as never)).toThrow(ConfigError)
  expect(() => resolvePipelineOptions({ stages: [5], sink: () => {} } as never)).toThrow(/^stages\[0\]: must be an object/)
})

it('a source that cannot be read and a signal that is no AbortSignal are ConfigErrors when the pipeline is made', () => {
  const init = { stages: [{ name: 's', module: 's.mjs' }], sink: () => {} }
  expect(() => resolvePipelineOptions({ ...init, source: 5 } as never)).toThrow(/^source: must be/)
  expect(() => resolvePipelineOptions({ ...init, signal: {} } as never)).toThrow(/^signal: must be/)
  expect(resolvePipelineOptions({ ...init, source: 'ab' }).source).toBe('ab')
  expect(resolvePipelineOptions({ ...init, source: (async function * () {})() }).source).toBeDefined()
})
