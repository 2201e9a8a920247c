import { describe, it, expect } from 'vitest'
import { suspicionTimeout, expectedConfirmations } from '../../../src/membership/suspicion.ts'

describe('expectedConfirmations', () => {
  it.each([
    { members: -1, expected: 0 },
    { members: 0, expected: 0 },
    { members: 1, expected: 0 },
    { members: 2, expected: 1 },
    { members: 3, expected: 2 },
    { members: 4, expected: 3 },
    { members: 5, expected: 3 },
    { members: 1000, expected: 3 }
  ])('$members members -> $expected', ({ members, expected }) => {
    expect(expectedConfirmations(members)).toBe(expected)
  })
})

describe('suspicionTimeout', () => {
  const MIN = 1000
  const MAX = 9000

  it.each([
    { name: 'no confirmations -> max', confirmations: 0, expected: 3, result: MAX },
    { name: 'exactly expected -> min', confirmations: 3, expected: 3, result: MIN },
    { name: 'more than expected -> min', confirmations: 7, expected: 3, result: MIN },
    { name: 'nobody could confirm (expected 0) -> min', confirmations: 0, expected: 0, result: MIN },
    { name: 'negative expected -> min', confirmations: 0, expected: -2, result: MIN },
    { name: 'one of one -> min', confirmations: 1, expected: 1, result: MIN },
    // log-scaled: log(2) / log(4) = 1/2 of the way from max to min
    { name: 'one of three -> halfway', confirmations: 1, expected: 3, result: (MIN + MAX) / 2 }
  ])('$name', ({ confirmations, expected, result }) => {
    expect(suspicionTimeout(confirmations, expected, MIN, MAX)).toBeCloseTo(result, 9)
  })

  it.each([
    { expected: 1, min: 100, max: 300 },
    { expected: 2, min: 1000, max: 3000 },
    { expected: 3, min: 1000, max: 9000 },
    { expected: 3, min: 0, max: 1 },
    { expected: 10, min: 50, max: 60_000 }
  ])('expected=$expected min=$min max=$max: bounded and non-increasing in confirmations', ({ expected, min, max }) => {
    let previous = Infinity
    for (let c = 0; c <= expected + 2; c++) {
      const t = suspicionTimeout(c, expected, min, max)
      expect(t).toBeGreaterThanOrEqual(min)
      expect(t).toBeLessThanOrEqual(max)
      expect(t).toBeLessThanOrEqual(previous)
      previous = t
    }
    expect(suspicionTimeout(0, expected, min, max)).toBe(max)
    expect(suspicionTimeout(expected, expected, min, max)).toBe(min)
  })

  it('strictly decreases between 0 and expected confirmations', () => {
    const values = [0, 1, 2, 3].map(c => suspicionTimeout(c, 3, MIN, MAX))
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]!)
  })

  it('min == max gives that value whatever the confirmations', () => {
    for (const c of [0, 1, 2, 3, 4]) expect(suspicionTimeout(c, 3, 500, 500)).toBe(500)
  })
})
