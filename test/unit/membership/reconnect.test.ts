import { describe, it, expect } from 'vitest'
import { ReconnectSchedule } from '../../../src/membership/reconnect.ts'

const FIRST = 1000
const MAX = 8000
const FOR = 60_000

function schedule (): ReconnectSchedule {
  return new ReconnectSchedule({ firstMs: FIRST, maxMs: MAX, forMs: FOR })
}

/** Calls due() every `step` ms from `from` to `to` and records when `id` came due. */
function dueTimes (s: ReconnectSchedule, id: string, from: number, to: number, step = 100): number[] {
  const times: number[] = []
  for (let now = from; now <= to; now += step) if (s.due(now).includes(id)) times.push(now)
  return times
}

describe('ReconnectSchedule', () => {
  it('is not due before firstMs, due at firstMs', () => {
    const s = schedule()
    s.add('A', 0)
    expect(s.has('A')).toBe(true)
    expect(s.due(0)).toEqual([])
    expect(s.due(FIRST - 1)).toEqual([])
    expect(s.due(FIRST)).toEqual(['A'])
    expect(s.due(FIRST)).toEqual([]) // rescheduled, not due twice
  })

  it('doubles the delay after each dial, capped at maxMs', () => {
    const s = schedule()
    s.add('A', 0)
    const times = dueTimes(s, 'A', 0, 40_000)
    const gaps = times.map((t, i) => t - (i === 0 ? 0 : times[i - 1]!))
    expect(gaps.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 8000, 8000])
    expect(Math.max(...gaps)).toBe(MAX)
  })

  it.each([
    { name: 'at firstMs', now: 1000, due: true },
    { name: 'a late call still dials', now: 2500, due: true },
    { name: 'just before firstMs', now: 999, due: false }
  ])('first dial: $name', ({ now, due }) => {
    const s = schedule()
    s.add('A', 0)
    expect(s.due(now)).toEqual(due ? ['A'] : [])
  })

  it('reschedules from the time due() ran, not from the planned time', () => {
    const s = schedule()
    s.add('A', 0)
    expect(s.due(1500)).toEqual(['A']) // late: next in 2000 from 1500
    expect(s.due(3499)).toEqual([])
    expect(s.due(3500)).toEqual(['A'])
  })

  it('adding an id twice does not reset its schedule', () => {
    const s = schedule()
    s.add('A', 0)
    s.add('A', 900)
    expect(s.due(FIRST)).toEqual(['A'])
  })

  it('remove() stops it', () => {
    const s = schedule()
    s.add('A', 0)
    s.add('B', 0)
    s.remove('A')
    expect(s.has('A')).toBe(false)
    expect(s.due(FIRST)).toEqual(['B'])
    expect(dueTimes(s, 'A', FIRST, 30_000)).toEqual([])
  })

  it('remove() of an unknown id is harmless', () => {
    const s = schedule()
    expect(() => s.remove('nope')).not.toThrow()
    expect(s.due(FIRST)).toEqual([])
  })

  it.each([
    { name: 'at exactly forMs it is still kept', now: FOR, kept: true },
    { name: 'older than forMs it is dropped', now: FOR + 1, kept: false }
  ])('expiry: $name', ({ now, kept }) => {
    const s = schedule()
    s.add('A', 0)
    s.due(now)
    expect(s.has('A')).toBe(kept)
  })

  it('a dropped id is never due again and can be added afresh', () => {
    const s = schedule()
    s.add('A', 0)
    expect(s.due(FOR + 1)).toEqual([])
    expect(s.has('A')).toBe(false)
    expect(s.due(FOR + 10_000)).toEqual([])
    s.add('A', FOR + 10_000)
    expect(s.due(FOR + 10_000 + FIRST)).toEqual(['A'])
  })

  it('keeps ids independent', () => {
    const s = schedule()
    s.add('A', 0)
    s.add('B', 500)
    expect(s.due(1000)).toEqual(['A'])
    expect(s.due(1500)).toEqual(['B'])
    expect(s.due(3000)).toEqual(['A'])
    expect(s.due(3500)).toEqual(['B'])
    s.due(FOR + 1) // A expires, B (added at 500) does not yet
    expect(s.has('A')).toBe(false)
    expect(s.has('B')).toBe(true)
  })
})
