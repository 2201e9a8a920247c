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

  const at = (iso: string): number => Date.parse(iso)
  const isos = (ticks: number[]): string[] => ticks.map(t => new Date(t).toISOString().slice(11, 16))
  let made = 0
  const cron = (pattern: string, timezone: string) => makeSchedule({ ...base, id: `dst${made++}`, cron: pattern, timezone }, 'a', at('2025-01-01T00:00:00Z'))

  it('inside a repeated hour (autumn DST) every tick is after `after`, and the next run is not in the past', () => {
    // 01:09:55Z on 2025-10-26 is 02:09:55 in Paris for the second time: croner answers the first pass's times
    const s = cron('0 */5 * * * *', 'Europe/Paris')
    const after = at('2025-10-26T01:09:55Z')
    const upTo = at('2025-10-26T01:10:00Z')
    const ticks = ticksBetween(s, after, upTo, 10)
    expect(ticks.every(t => t > after && t <= upTo)).toBe(true)
    expect(isos(ticks)).toEqual(['01:10'])
    expect(nextTick(s, at('2025-10-26T01:02:23Z'))).toBe(at('2025-10-26T01:05:00Z'))
    // a fixed-hour pattern runs once there (the first pass): asked from the second pass, its next run is tomorrow
    expect(new Date(nextTick(cron('*/5 2 * * *', 'Europe/Paris'), at('2025-10-26T01:02:00Z'))!).toISOString()).toBe('2025-10-27T01:00:00.000Z')
    expect(nextTick(cron('0,30 2,3 * * *', 'Europe/Paris'), at('2025-10-26T01:10:00Z'))).toBe(at('2025-10-26T02:00:00Z'))
  })

  it('a pattern with a wildcard or step hour runs through the repeated hour by elapsed time, as in UTC', () => {
    const after = at('2025-10-26T00:40:00Z')
    const upTo = at('2025-10-26T02:20:00Z')
    expect(ticksBetween(cron('0 */5 * * * *', 'UTC'), after, upTo, 100)).toHaveLength(20)
    expect(ticksBetween(cron('0 */5 * * * *', 'Europe/Paris'), after, upTo, 100)).toEqual(ticksBetween(cron('0 */5 * * * *', 'UTC'), after, upTo, 100))
    expect(isos(ticksBetween(cron('0 * * * *', 'Europe/Paris'), at('2025-10-25T23:30:00Z'), at('2025-10-26T03:00:00Z'), 100))).toEqual(['00:00', '01:00', '02:00', '03:00'])
    expect(isos(ticksBetween(cron('@hourly', 'Europe/Paris'), at('2025-10-25T23:30:00Z'), at('2025-10-26T03:00:00Z'), 100))).toEqual(['00:00', '01:00', '02:00', '03:00'])
    expect(isos(ticksBetween(cron('*/30 * * * *', 'America/New_York'), at('2025-11-02T04:50:00Z'), at('2025-11-02T07:20:00Z'), 100))).toEqual(['05:00', '05:30', '06:00', '06:30', '07:00'])
    // a step hour matches both passes of 02:00 (00:00Z and 01:00Z)
    expect(isos(ticksBetween(cron('0 */2 * * *', 'Europe/Paris'), at('2025-10-25T21:00:00Z'), at('2025-10-26T04:00:00Z'), 100))).toEqual(['22:00', '00:00', '01:00', '03:00'])
    // a fixed hour runs once: 02:00-02:40 in Paris at the first pass only
    expect(isos(ticksBetween(cron('*/20 2 * * *', 'Europe/Paris'), at('2025-10-25T23:00:00Z'), at('2025-10-26T03:00:00Z'), 100))).toEqual(['00:00', '00:20', '00:40'])
  })

  it('in a skipped hour (spring DST) a wildcard hour goes on by elapsed time; a fixed-hour run there runs once, an hour later', () => {
    // 02:00-03:00 in Paris does not exist on 2025-03-30 (01:00Z is 03:00 CEST)
    expect(isos(ticksBetween(cron('*/20 * * * *', 'Europe/Paris'), at('2025-03-30T00:10:00Z'), at('2025-03-30T01:50:00Z'), 100))).toEqual(['00:20', '00:40', '01:00', '01:20', '01:40'])
    // 02:00 does not exist that day: the step hour's next run is 04:00 CEST
    expect(isos(ticksBetween(cron('0 */2 * * *', 'Europe/Paris'), at('2025-03-29T22:30:00Z'), at('2025-03-30T02:00:00Z'), 100))).toEqual(['23:00', '02:00'])
    // croner's rule, kept: 02:15 and 02:45 are missing, 02:15 runs at 03:15 CEST, 02:45 not at all
    expect(ticksBetween(cron('15,45 2 * * *', 'Europe/Paris'), at('2025-03-29T12:00:00Z'), at('2025-03-31T12:00:00Z'), 100).map(t => new Date(t).toISOString())).toEqual(['2025-03-30T01:15:00.000Z', '2025-03-31T00:15:00.000Z', '2025-03-31T00:45:00.000Z'])
  })

  it('catching up a per-second pattern after an hour walks back from upTo, not 3,600 steps from `after`', () => {
    const s = cron('* * * * * *', 'Europe/Paris')
    const upTo = at('2025-06-01T12:00:00Z')
    const nextRun = vi.spyOn(Cron.prototype, 'nextRun')
    try {
      expect(ticksBetween(s, upTo - 3600_000, upTo, 10)).toEqual(Array.from({ length: 10 }, (_, i) => upTo - 9000 + i * 1000))
      expect(nextRun.mock.calls.length).toBeLessThan(100)
      // the same with a fixed hour range (croner in the zone: about 0.3 ms a call)
      nextRun.mockClear()
      expect(ticksBetween(cron('* * 0-23 * * *', 'Europe/Paris'), upTo - 3600_000, upTo, 10)).toHaveLength(10)
      expect(nextRun.mock.calls.length).toBeLessThan(100)
    } finally {
      nextRun.mockRestore()
    }
    // a sparse pattern still finds its ticks far back in the window
    expect(isos(ticksBetween(cron('0 0 * * * *', 'UTC'), upTo - 3600_000 + 1, upTo, 10))).toEqual(['12:00'])
    expect(isos(ticksBetween(cron('0 0,1 * * * *', 'UTC'), upTo - 7200_000, upTo, 3))).toEqual(['11:00', '11:01', '12:00'])
  })
})
