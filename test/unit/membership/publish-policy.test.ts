import { describe, it, expect } from 'vitest'
import { PublishPolicy } from '../../../src/membership/publish-policy.ts'
import { entry } from './entry.ts'

const HB = 1000
// random 0.5: every refresh at its nominal interval (the jitter's factor is 0.5 + random)
const policy = (random = (): number => 0.5): PublishPolicy => new PublishPolicy({ heartbeatMs: HB, refreshPerMemberMs: HB, minRefreshMs: 5 * HB, random })
const self = entry('S')

describe('PublishPolicy: heartbeats are news, not a pulse', () => {
  it('the refresh interval grows with the grid, so the grid sends about one heartbeat a second', () => {
    const p = policy()
    expect(p.refreshMs(2)).toBe(5 * HB)
    expect(p.refreshMs(20)).toBe(20 * HB)
    expect(p.refreshMs(50)).toBe(50 * HB)
  })

  it('each refresh is drawn from half to one and a half times the interval, so nodes started together spread out', () => {
    const early = policy(() => 0)
    const late = policy(() => 0.99)
    for (const p of [early, late]) for (const at of [0, 1000, 2000]) p.published(self, '', at)
    // 20 members: a nominal 20 s after the last publish at 2 s
    expect(early.due(self, '', false, 20, 11_999)).toBe(false)
    expect(early.due(self, '', false, 20, 12_000)).toBe(true)
    expect(late.due(self, '', false, 20, 31_700)).toBe(false)
    expect(late.due(self, '', false, 20, 31_800)).toBe(true)
  })

  it('an unchanged entry goes out on its first 3 heartbeats (the mesh may not have formed for the first), then only at the refresh', () => {
    const p = policy()
    for (const at of [0, 1000, 2000]) {
      expect(p.due(self, '', false, 20, at)).toBe(true)
      p.published(self, '', at)
      expect(p.due(self, '', false, 20, at + 500)).toBe(false)
    }
    expect(p.due(self, '', false, 20, 21_999)).toBe(false)
    expect(p.due(self, '', false, 20, 22_000)).toBe(true)
  })

  it('a new incarnation (a restart, a refutation) goes out at once and is announced 3 times again', () => {
    const p = policy()
    for (const at of [0, 1000, 2000]) p.published(self, '', at)
    const refuted = entry('S', { incarnation: self.incarnation + 1 })
    expect(p.due(refuted, '', false, 20, 2100)).toBe(true)
    p.published(refuted, '', 2100)
    expect(p.due(refuted, '', false, 20, 3100)).toBe(true)
    p.published(refuted, '', 3100)
    expect(p.due(refuted, '', false, 20, 4100)).toBe(true)
    p.published(refuted, '', 4100)
    expect(p.due(refuted, '', false, 20, 5100)).toBe(false)
  })

  it('a change placement cares about goes out at once; a drifting CPU figure at most twice a refresh', () => {
    const p = policy()
    for (const at of [-2000, -1000, 0]) p.published(self, '', at)
    expect(p.due(entry('S', { load: { workers: 1, slotsUsed: 1 } }), '', false, 20, 10)).toBe(true)
    const busy = entry('S', { load: { cpu: 0.9 } })
    expect(p.due(busy, '', false, 20, 9_999)).toBe(false)
    expect(p.due(busy, '', false, 20, 10_000)).toBe(true)
    expect(p.due(entry('S', { load: { cpu: 0.2 } }), '', false, 20, 10_000)).toBe(false)
  })

  it('a new claim goes out at once; a standing one every heartbeat while the incident lasts, every 5 once settled', () => {
    const p = policy()
    for (const at of [-2000, -1000, 0]) p.published(self, '', at)
    expect(p.due(self, 'B:suspect:1|', true, 20, 10)).toBe(true)
    p.published(self, 'B:suspect:1|', 10)
    expect(p.due(self, 'B:suspect:1|', true, 20, 500)).toBe(false)
    expect(p.due(self, 'B:suspect:1|', true, 20, 1010)).toBe(true)
    p.published(self, 'B:failed:1|', 1010)
    expect(p.due(self, 'B:failed:1|', false, 20, 2100)).toBe(false)
    expect(p.due(self, 'B:failed:1|', false, 20, 6010)).toBe(true)
  })
})
