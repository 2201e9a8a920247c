import { describe, it, expect } from 'vitest'
import { MemberTable } from '../../../src/membership/table.ts'
import type { MemberEvent } from '../../../src/membership/member.ts'
import { entry, INIT, SELF, SUSPECT, MAX, table } from './helpers.ts'

/** A table of the whole grid, as some other node (not SELF) holds it. */
function grid (...ids: string[]): MemberTable {
  const t = new MemberTable({ ...INIT, selfId: 'observer' })
  for (const id of ids) t.heard(entry(id), 0)
  return t
}
const sorted = (t: MemberTable, now: number): unknown[] => t.list(now).sort((a, b) => a.id < b.id ? -1 : 1)

describe('MemberTable.fork (the simulator starts thousands of nodes from one converged table)', () => {
  it('a forked table behaves as one built row by row, step for step', () => {
    const plain = table('A', 'B', 'C', 'D')
    const forked = grid('A', 'B', 'C', 'D', SELF).fork(INIT)
    const steps: Array<(t: MemberTable) => MemberEvent[]> = [
      t => t.heard(entry('A', { weight: 3 }), 100),
      t => { t.setMonitored(['A', 'B'], 200); return [] },
      t => t.tick(SUSPECT + 300),
      t => t.claim('C', { id: 'D', incarnation: 0, state: 'suspect' }, SUSPECT + 400),
      t => t.acked('A', 0, SUSPECT + 500),
      t => t.liveReport({ id: 'D', incarnation: 0, ageMs: 10 }, SUSPECT + 600),
      t => t.unreachable('C', SUSPECT + 700),
      t => t.tick(SUSPECT + MAX + 1000),
      t => t.heard(entry('E'), SUSPECT + MAX + 1100),
      t => t.forget(INIT.forgetFailedAfterMs + SUSPECT + MAX + 2000).map(member => ({ type: 'member:leave' as const, member }))
    ]
    for (const [i, step] of steps.entries()) {
      expect(step(forked), `step ${i}`).toEqual(step(plain))
      expect(sorted(forked, 99_999), `step ${i}`).toEqual(sorted(plain, 99_999))
      expect(forked.count(['alive', 'suspect', 'failed', 'left'])).toBe(plain.count(['alive', 'suspect', 'failed', 'left']))
      expect(forked.watchable().sort()).toEqual(plain.watchable().sort())
      expect(forked.suspects(99_999)).toEqual(plain.suspects(99_999))
    }
  })

  it('forks share nothing they change: not with each other, nor with the table they came from', () => {
    const base = grid('A', 'B', 'C', SELF)
    const one = base.fork(INIT)
    const two = base.fork({ ...INIT, selfId: 'A' })
    one.heard(entry('B', { weight: 5 }), 10)
    one.unreachable('C', 10)
    base.heard(entry('A', { weight: 7 }), 10)
    expect(two.get('B', 10)?.weight).toBe(1)
    expect(two.get('C', 10)?.state).toBe('alive')
    expect(base.get('B', 10)?.weight).toBe(1)
    expect(one.get('A', 10)?.weight).toBe(1)
    expect(two.list(10).map(m => m.id).sort()).toEqual(['B', 'C', SELF])
    // a fork of a fork, and a row removed and heard again
    const three = one.fork({ ...INIT, selfId: 'B' })
    expect(three.get('C', 10)?.state).toBe('failed')
    expect(three.list(10).map(m => m.id).sort()).toEqual(['A', 'C'])
    one.heard(entry('A', { weight: 6 }), 20)
    expect(three.get('A', 20)?.weight).toBe(1)
    expect(one.get('A', 20)?.weight).toBe(6)
  })

  it('a fork leaves its own node out, and its counts and ring feed follow', () => {
    const changes: string[] = []
    const t = grid('A', 'B', SELF).fork({ ...INIT, onWatchable: (id, watchable) => { changes.push(`${id}:${watchable}`) } })
    expect(t.get(SELF, 0)).toBeUndefined()
    expect(t.count(['alive'])).toBe(2)
    t.unreachable('A', 0)
    expect(t.count(['alive'])).toBe(1)
    expect(t.count(['failed'])).toBe(1)
    expect(changes).toContain('A:false')
  })
})
