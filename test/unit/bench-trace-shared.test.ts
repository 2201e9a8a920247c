import { describe, expect, it } from 'vitest'
import { sharedSlowest, slowestIds } from '../bench/trace-shared.ts'

// 200 items at 20 ms: the slowest 1 % is 2 items
const flat = (): number[] => Array.from({ length: 200 }, () => 20)

describe('bench:trace: the same items slow side by side', () => {
  it('picks the slowest 1 % by latency, a lost item (NaN) counting as slowest', () => {
    const a = flat()
    a[7] = 90
    a[150] = Number.NaN
    a[3] = 60
    expect([...slowestIds(a)].sort((x, y) => x - y)).toEqual([7, 150])
  })

  it('counts the items slow under both runs: all, some or none', () => {
    const a = flat()
    const b = flat()
    a[10] = 80; a[11] = 70
    b[10] = 75; b[11] = 90
    expect(sharedSlowest(a, b)).toEqual({ shared: 2, of: 2 })
    b[11] = 20; b[90] = 95
    expect(sharedSlowest(a, b)).toEqual({ shared: 1, of: 2 })
    b[10] = 20; b[91] = 99
    expect(sharedSlowest(a, b)).toEqual({ shared: 0, of: 2 })
  })

  it('refuses runs of different traces', () => {
    expect(() => sharedSlowest(flat(), [1, 2, 3])).toThrow(/not the same trace/)
  })
})
