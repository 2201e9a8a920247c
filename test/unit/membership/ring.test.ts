import { describe, it, expect } from 'vitest'
import { MonitorRing, fnv1a } from '../../../src/membership/ring.ts'

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `peer-${i}`)
const byHash = (list: string[]): string[] => [...list].sort((a, b) => fnv1a(a) - fnv1a(b) || (a < b ? -1 : 1))
const ringOf = (members: string[]): MonitorRing => {
  const ring = new MonitorRing()
  for (const id of members) ring.add(id)
  return ring
}

describe('MonitorRing', () => {
  it('each member watches the k that follow it, so each is watched by exactly k', () => {
    const all = ids(50)
    const watchedBy = new Map<string, number>()
    for (const self of all) {
      const targets = ringOf(all).successors(self, 3)
      expect(targets).toHaveLength(3)
      expect(targets).not.toContain(self)
      for (const t of targets) watchedBy.set(t, (watchedBy.get(t) ?? 0) + 1)
    }
    expect([...watchedBy.values()].every(n => n === 3)).toBe(true)
    expect(watchedBy.size).toBe(50)
  })

  it('a small grid watches everyone else, whether or not the ring lists the node itself', () => {
    expect(ringOf(['a', 'b', 'c']).successors('a', 3).sort()).toEqual(['b', 'c'])
    expect(ringOf(['b', 'c']).successors('a', 3).sort()).toEqual(['b', 'c'])
    expect(ringOf(['a']).successors('a', 3)).toEqual([])
    expect(ringOf([]).successors('a', 3)).toEqual([])
  })

  it('members coming and going give the same ring as computing it afresh', () => {
    const ring = ringOf(ids(30))
    let members = ids(30)
    for (let round = 0; round < 20; round++) {
      if (round % 2 === 0) {
        ring.remove(`peer-${round}`)
        members = members.filter(id => id !== `peer-${round}`)
      } else {
        ring.add(`late-${round}`)
        members = [...members, `late-${round}`]
      }
      // removed and added back before the ring is read, or added twice: listed once
      ring.remove('peer-29')
      ring.add('peer-29')
      ring.add('peer-28')
      const sorted = byHash([...members, 'me'])
      const at = sorted.indexOf('me')
      const expected = [1, 2, 3].map(k => sorted[(at + k) % sorted.length])
      expect(ring.successors('me', 3)).toEqual(expected)
    }
    expect(ring.successors('me', 100)).toHaveLength(members.length)
  })
})
