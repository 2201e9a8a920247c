import { describe, expect, it } from 'vitest'
import { slope } from '../bench/soak-stats.ts'

describe('bench:soak slope', () => {
  it('is the least-squares slope, noise and all', () => {
    expect(slope([[0, 1], [1, 3], [2, 5]])).toBeCloseTo(2)
    expect(slope([[0, 10], [1, 9], [2, 11], [3, 10]])).toBeCloseTo(0.2)
  })

  it('is null without two points spread in x; non-finite points are left out', () => {
    expect(slope([])).toBeNull()
    expect(slope([[1, 5]])).toBeNull()
    expect(slope([[1, 5], [1, 6]])).toBeNull()
    expect(slope([[0, 0], [1, Number.NaN], [2, 4]])).toBeCloseTo(2)
  })
})
