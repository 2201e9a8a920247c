import { describe, it, expect } from 'vitest'
import { electHolder } from '../../../src/leases/election.ts'

const peers = ['12D3KooWA', '12D3KooWB', '12D3KooWC', '12D3KooWD']

describe('electHolder (rendezvous hashing)', () => {
  it('picks the same firer whatever order the candidates come in', () => {
    for (const id of ['a', 'beat', 'nightly', 'x.y-z']) {
      const first = electHolder(id, peers)
      expect(electHolder(id, [...peers].reverse())).toBe(first)
      expect(electHolder(id, [peers[2]!, peers[0]!, peers[3]!, peers[1]!])).toBe(first)
    }
  })

  it('moves only the schedules of a candidate that goes, to their second choice', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `s${i}`)
    const before = new Map(ids.map(id => [id, electHolder(id, peers)!]))
    const gone = peers[1]!
    const after = new Map(ids.map(id => [id, electHolder(id, peers.filter(p => p !== gone))!]))
    for (const id of ids) {
      if (before.get(id) !== gone) expect(after.get(id)).toBe(before.get(id))
      else expect(after.get(id)).not.toBe(gone)
    }
  })

  it('spreads schedules over the candidates', () => {
    const counts = new Map<string, number>()
    for (let i = 0; i < 400; i++) { const p = electHolder(`s${i}`, peers)!; counts.set(p, (counts.get(p) ?? 0) + 1) }
    for (const p of peers) expect(counts.get(p)).toBeGreaterThan(50)
  })

  it('elects nobody from no candidates', () => {
    expect(electHolder('a', [])).toBeUndefined()
  })
})
