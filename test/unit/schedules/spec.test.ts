import { describe, it, expect, vi } from 'vitest'
import { Cron } from 'croner'
import { makeSchedule, nextTick, ticksBetween } from '../../../src/schedules/spec.ts'
import { ConfigError } from '../../../src/errors.ts'

const base = { id: 's', task: 'tick' }

describe('makeSchedule', () => {
  it('fills the defaults and keeps what was given', () => {
    expect(makeSchedule({ ...base, everyMs: 2000 }, 'alice', 5)).toEqual({ id: 's', everyMs: 2000, timezone: 'UTC', task: 'tick', input: null, overlap: 'skip', catchup: false, paused: false, envelope: false, owner: 'alice', createdAt: 5, since: 5 })
    expect(makeSchedule({ ...base, cron: '*/5 * * * * *', timezone: 'Asia/Tokyo', overlap: 'allow', catchup: true, input: { a: 1 } }, 'bob', 0)).toMatchObject({ cron: '*/5 * * * * *', timezone: 'Asia/Tokyo', overlap: 'allow', catchup: true, input: { a: 1 } })
  })

  it.each([
    [{ ...base }, 'schedule'],
    [{ ...base, cron: '* * * * *', everyMs: 1000 }, 'schedule'],
    [{ ...base, everyMs: 999 }, 'schedule.everyMs'],
    [{ ...base, cron: '61 * * * *' }, 'schedule.cron'],
    [{ ...base, cron: '* * * * *', timezone: 'Nowhere/Else' }, 'schedule.cron'],
    [{ ...base, id: '../x', everyMs: 1000 }, 'schedule.id'],
    [{ ...base, everyMs: 1000, overlap: 'queue' }, 'schedule.overlap'],
    [{ ...base, everyMs: 1000, extra: 1 }, 'schedule'],
    [{ ...base, everyMs: 1000, input: 'x'.repeat(17 * 1024) }, 'schedule.input'],
    // patterns that never fire: croner finds that out only by searching to the year 3000, every time a firer looks
    [{ ...base, cron: '0 0 31 2 *' }, 'never fires'],
    [{ ...base, cron: '0 0 30 2 *' }, 'never fires'],
    [{ ...base, cron: '0 0 31 4,6,9,11 *' }, 'never fires']
  ])('refuses %j naming %s', (raw, option) => {
    let err: unknown
    try { makeSchedule(raw, 'a', 0) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).message).toContain(option)
  })

  it('refuses a pattern whose last run is gone by, and takes one that fires rarely', () => {
    const now = Date.UTC(2026, 11, 2)
    expect(() => makeSchedule({ ...base, cron: '0 0 0 1 1 * 2020' }, 'a', now)).toThrow(/never fires/)
    expect(nextTick(makeSchedule({ ...base, cron: '0 0 29 2 +1' }, 'a', now), now)).toBe(Date.UTC(2044, 1, 29))
  })
})

describe('ticksBetween / nextTick', () => {
  it('everyMs ticks are multiples of the period since the epoch, (after, upTo], the latest max', () => {
    const s = makeSchedule({ ...base, everyMs: 2000 }, 'a', 0)
    expect(ticksBetween(s, 1000, 9000, 10)).toEqual([2000, 4000, 6000, 8000])
    expect(ticksBetween(s, 2000, 8000, 10)).toEqual([4000, 6000, 8000])
    expect(ticksBetween(s, 0, 100_000, 3)).toEqual([96_000, 98_000, 100_000])
    expect(nextTick(s, 4000)).toBe(6000)
  })

  it('a cron schedule\'s next run is computed once, not again at every firer step until it is due', () => {
    // a firer asks for every schedule it holds every 100 ms, each time of a schedule parsed anew from the channel
    const daily = makeSchedule({ ...base, cron: '0 0 * * *' }, 'a', 0)
    const nextRun = vi.spyOn(Cron.prototype, 'nextRun')
    try {
      for (let now = 10_000; now < 70_000; now += 100) expect(ticksBetween({ ...daily }, now - 5000, now, 10)).toEqual([])
      expect(nextTick({ ...daily }, 70_000)).toBe(86_400_000)
      expect(nextRun.mock.calls.length).toBeLessThanOrEqual(1)
      // and when it is due, the walk goes on from there
      expect(ticksBetween({ ...daily }, 86_400_000 - 5000, 86_400_000 + 100, 10)).toEqual([86_400_000])
      expect(ticksBetween({ ...daily }, 86_400_000, 86_400_000 + 200, 10)).toEqual([])
      expect(nextTick({ ...daily }, 86_400_000)).toBe(2 * 86_400_000)
    } finally {
      nextRun.mockRestore()
    }
  })

  it('cron with seconds, in a time zone', () => {
    const s = makeSchedule({ ...base, cron: '*/20 * * * * *' }, 'a', 0)
    expect(ticksBetween(s, 0, 60_000, 10)).toEqual([20_000, 40_000, 60_000])
    const paris = makeSchedule({ ...base, cron: '0 30 2 * * *', timezone: 'Europe/Paris' }, 'a', 0)
    const next = nextTick(paris, Date.UTC(2026, 0, 10, 12))!
    // 02:30 in Paris in January is 01:30 UTC
    expect(new Date(next).toISOString()).toBe('2026-01-11T01:30:00.000Z')
    expect(ticksBetween(paris, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 31), 2).map(t => new Date(t).toISOString())).toEqual(['2026-01-29T01:30:00.000Z', '2026-01-30T01:30:00.000Z'])
  })
})
