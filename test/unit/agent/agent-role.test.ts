import { describe, expect, it } from 'vitest'
import * as v from 'valibot'
import { boundedStages, OTHER_STAGES } from '../../../src/agent/agent-role.ts'
import { memberEntrySchema as memberSchema, MAX_LOAD_STAGES } from '../../../src/membership/schema.ts'

describe('boundedStages', () => {
  it('keeps a load of up to MAX_LOAD_STAGES stages as it is', () => {
    const stages = Object.fromEntries(Array.from({ length: MAX_LOAD_STAGES }, (_, i) => [`s${i}`, i + 1]))
    expect(boundedStages(stages)).toBe(stages)
  })

  it('folds the least busy stages beyond the bound into one entry, keeping the total', () => {
    const stages = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`s${i}`, i + 1]))
    const bounded = boundedStages(stages)
    expect(Object.keys(bounded)).toHaveLength(MAX_LOAD_STAGES)
    expect(bounded.s99).toBe(100)
    expect(bounded.s0).toBeUndefined()
    const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0)
    expect(total(bounded)).toBe(total(stages))
    expect(bounded[OTHER_STAGES]).toBeGreaterThan(0)
  })
})

describe('an agent running workers of more stages than a heartbeat may name', () => {
  it('still gossips a load its peers accept', () => {
    const stages = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`stage-${i}`, 1]))
    const withLoad = (s: Record<string, number>): unknown => ({
      id: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
      addresses: [],
      incarnation: 1,
      role: 'agent',
      state: 'alive',
      capacity: { cpu: 2, memoryMb: 1024 },
      load: { cpu: 0, memoryFreeMb: 100, workers: 100, maxWorkers: 100, slotsUsed: 1, memoryUsedMb: 0, stages: s },
      weight: 1,
      strategy: 'horizontal'
    })
    expect(v.safeParse(memberSchema, withLoad(stages)).success).toBe(false)
    expect(v.safeParse(memberSchema, withLoad(boundedStages(stages))).issues).toBeUndefined()
  })
})
