import { describe, it, expect } from 'vitest'
import { entry, SUSPECT, table, types } from './helpers.ts'

/**
 * A member a node starts watching cannot beat to it before its beat line opens (the watcher may have
 * to dial it first: beyond the mesh cap, or a joiner nobody dialled yet). Seen with real processes: a
 * member capped at one connection, joining five, suspected its healthy successors (first beat 700+ ms
 * after it watched them, window 600 ms), and they suspected it.
 */
describe('a newly watched member', () => {
  it('is not suspected a window after it was watched while its line is still opening', () => {
    const t = table('A')
    t.setMonitored(['A'], 0)
    expect(types(t.tick(1.1 * SUSPECT))).toEqual([])
    // the line opened at last and A beat at once
    t.acked('A', 0, 1.2 * SUSPECT)
    expect(types(t.tick(2 * SUSPECT))).toEqual([])
    expect(t.get('A', 2 * SUSPECT)?.state).toBe('alive')
  })

  it('is silent only from when its line opened, not from when it was watched', () => {
    const t = table('A')
    t.setMonitored(['A'], 0)
    // the line took most of a window to open (a dial first); its first beat is on its way
    t.lineOpened('A', 0.8 * SUSPECT)
    expect(types(t.tick(1.5 * SUSPECT))).toEqual([])
    t.acked('A', 0, 1.6 * SUSPECT)
    expect(t.get('A', 1.6 * SUSPECT)?.state).toBe('alive')
  })

  it('whose line opened and then stayed silent is suspected a window after the line opened', () => {
    const t = table('A')
    t.setMonitored(['A'], 0)
    t.lineOpened('A', 0.5 * SUSPECT)
    expect(types(t.tick(1.4 * SUSPECT))).toEqual([])
    expect(types(t.tick(1.5 * SUSPECT))).toEqual(['member:suspect'])
  })

  it('whose line never opens is suspected within a bound (two windows)', () => {
    const t = table('A')
    t.setMonitored(['A'], 0)
    expect(types(t.tick(1.9 * SUSPECT))).toEqual([])
    expect(types(t.tick(2 * SUSPECT))).toEqual(['member:suspect'])
  })

  it('gets the line grace once per watch: a line reopened later earns nothing', () => {
    const t = table('A')
    t.setMonitored(['A'], 0)
    t.lineOpened('A', 0.1 * SUSPECT)
    t.acked('A', 0, 0.2 * SUSPECT)
    // the connection changed and the line reopened; the member is silent since its beat at 0.2
    t.lineOpened('A', SUSPECT)
    expect(types(t.tick(1.2 * SUSPECT))).toEqual(['member:suspect'])
  })

  it('watched again after a pause is waiting for a new line', () => {
    const t = table('A', 'B')
    t.setMonitored(['A'], 0)
    t.acked('A', 0, 100)
    t.setMonitored(['B'], 200)
    t.heard(entry('A'), 5 * SUSPECT)
    t.setMonitored(['A', 'B'], 6 * SUSPECT)
    t.acked('B', 0, 7 * SUSPECT)
    t.lineOpened('A', 6.9 * SUSPECT)
    expect(types(t.tick(7.5 * SUSPECT))).toEqual([])
    expect(t.get('A', 7.5 * SUSPECT)?.state).toBe('alive')
  })
})

describe('a newly watched member that never beats', () => {
  it('is suspected within two windows of being watched even when its line opened just before that bound', () => {
    const t = table('A')
    t.setMonitored(['A'], 0)
    // the line opened late (a slow dial); the member never beats on it
    t.lineOpened('A', 1.9 * SUSPECT)
    expect(types(t.tick(1.9 * SUSPECT))).toEqual([])
    // silence counted from the line would have suspected it only at 2.9 windows
    expect(types(t.tick(2 * SUSPECT))).toEqual(['member:suspect'])
  })
})
