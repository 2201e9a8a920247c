import { describe, it, expect } from 'vitest'
import { MemberTable } from '../../../src/membership/table.ts'
import { entry, INIT, MAX, types } from './helpers.ts'

/**
 * A node that does not watch a member learns of its failure from the watchers' claims, gossiped for a
 * while. One that missed them (paused, cut off meanwhile) hears it next from a sync (the tables of the
 * members it reconnects to list it failed, or left): it must not keep the member alive for good.
 */
describe('MemberTable: a failure or leave this node missed, then listed by a sync', () => {
  for (const state of ['failed', 'left'] as const) {
    it(`a member this node does not watch, listed ${state} by another member's sync, fails unless it refutes`, () => {
      const t = new MemberTable(INIT)
      t.heard(entry('A'), 0)
      t.heard(entry('B'), 0)
      t.setMonitored(['B'], 0)
      t.merge(entry('A', { state }), 100)
      t.heard(entry('B'), 100 + MAX)
      expect(types(t.tick(100 + MAX))).toContain('member:fail')
      expect(t.get('A', 100 + MAX)?.state).toBe('failed')
    })
  }

  it('its own heartbeat still refutes that suspicion', () => {
    const t = new MemberTable(INIT)
    t.heard(entry('A'), 0)
    t.setMonitored([], 0)
    t.merge(entry('A', { state: 'failed' }), 100)
    t.heard(entry('A', { incarnation: 1 }), 200)
    t.tick(100 + MAX)
    expect(t.get('A', 100 + MAX)?.state).toBe('alive')
  })

  it('a member this node watches is left to its own detection (a sync is only a hint)', () => {
    const t = new MemberTable(INIT)
    t.heard(entry('A'), 0)
    t.setMonitored(['A'], 0)
    t.merge(entry('A', { state: 'failed' }), 100)
    t.heard(entry('A'), 200)
    expect(types(t.tick(300))).toEqual([])
    expect(t.get('A', 300)?.state).toBe('alive')
  })
})
