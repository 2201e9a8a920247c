import { describe, it, expect } from 'vitest'
import { LogRate } from '../../../src/worker/log-rate.ts'

describe('LogRate', () => {
  it('admits perSecond lines a second, drops the rest, and says how many before the next admitted line', () => {
    const rate = new LogRate(2)
    expect(rate.admit('a', 1000)).toEqual(['a'])
    expect(rate.admit('b', 1100)).toEqual(['b'])
    expect(rate.admit('c', 1200)).toEqual([])
    expect(rate.admit('d', 1999)).toEqual([])
    const next = rate.admit('e', 2000)
    expect(next).toHaveLength(2)
    expect(next[0]).toMatch(/2 log line\(s\) dropped/)
    expect(next[1]).toBe('e')
    expect(rate.admit('f', 2001)).toEqual(['f'])
  })
})
