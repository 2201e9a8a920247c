import { describe, it, expect } from 'vitest'
import { MonitorRing, fnv1a } from '../../../src/membership/ring.ts'

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `peer-${i}`)
const byHash = (list: string[]): string[] => [...list].sort((a, b) => fnv1a(a) - fnv1a(b) || (a < b ? -1 : 1))

describe('MonitorRing', () => {
  it('each member watches the k that follow it, so each is watched by exactly k', () => {
    const all = ids(50)
    const watchedBy = new Map<string, number>()
    for (const self of all) {
      const targets = new MonitorRing().targets(self, all, 3)
      expect(targets).toHaveLength(3)
      expect(targets).not.toContain(self)
      for (const t of targets) watchedBy.set(t, (watchedBy.get(t) ?? 0) + 1)
    }
    expect([...watchedBy.values()].every(n => n === 3)).toBe(true)
    expect(watchedBy.size).toBe(50)
  })

  it('a small grid watches everyone else', () => {
    expect(new MonitorRing().targets('a', ['a', 'b', 'c'], 3).sort()).toEqual(['b', 'c'])
    expect(new MonitorRing().targets('a', ['a'], 3)).toEqual([])
  })

  it('members coming and going give the same ring as computing it afresh', () => {
    const ring = new MonitorRing()
    let members = ids(30)
    for (let round = 0; round < 20; round++) {
      members = round % 2 === 0 ? members.filter((_, i) => i !== round) : [...members, `late-${round}`]
      const sorted = byHash([...members, 'me'])
      const at = sorted.indexOf('me')
      const expected = [1, 2, 3].map(k => sorted[(at + k) % sorted.length])
      expect(ring.targets('me', members, 3)).toEqual(expected)
    }
  })
})
