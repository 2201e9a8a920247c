import { describe, it, expect } from 'vitest'
import pino from 'pino'
import { MemberTable } from '../../../src/membership/table.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { entry, INIT, SUSPECT, MIN, types } from './helpers.ts'

describe('MemberTable: what only a member itself can say', () => {
  it('its own heartbeat overrides an incarnation others inflated before we heard it', () => {
    const t = new MemberTable(INIT)
    t.merge(entry('A', { incarnation: 1e12 }), 0)
    expect(types(t.heard(entry('A', { incarnation: 5 }), 10, 0))).toEqual([])
    expect(t.get('A', 10)).toMatchObject({ state: 'alive', incarnation: 5 })
    // from then on it is its own word: lower incarnations are stale again
    expect(t.heartbeatOrder('A', 4, 99)).toBe('replay')
  })

  it('its own signed leave is a leave; a third party\'s is not', () => {
    const t = new MemberTable(INIT)
    t.heard(entry('A'), 0)
    expect(types(t.merge(entry('A', { state: 'left', incarnation: 3 }), 10))).toEqual([])
    expect(types(t.heard(entry('A', { state: 'left' }), 20))).toEqual(['member:leave'])
  })
})

describe('MemberTable.heartbeatOrder', () => {
  it('at the known incarnation, a seq heard before (or older than the window) is a replay; a new incarnation starts afresh', () => {
    const t = new MemberTable(INIT)
    t.heard(entry('A', { incarnation: 7 }), 0, 40)
    expect(t.heartbeatOrder('A', 7, 40)).toBe('replay')
    expect(t.heartbeatOrder('A', 7, 3)).toBe('replay')
    expect(t.heartbeatOrder('A', 7, 41)).toBe('new')
    expect(t.heartbeatOrder('A', 6, 50)).toBe('replay')
    expect(t.heartbeatOrder('A', 8, 0)).toBe('new')
    t.heard(entry('A', { incarnation: 8 }), 10, 0)
    expect(t.heartbeatOrder('A', 8, 0)).toBe('replay')
    expect(t.heartbeatOrder('A', 8, 1)).toBe('new')
  })

  it('one older than the highest but never heard is late (gossip reorders), once; its entry does not go back', () => {
    const t = new MemberTable(INIT)
    const orders = (...seqs: number[]): string[] => seqs.map(seq => t.heartbeatOrder('A', 7, seq))
    t.heard(entry('A', { incarnation: 7, weight: 2 }), 0, 9)
    expect(orders(8, 7)).toEqual(['late', 'late'])
    t.heardLate('A', 8)
    expect(orders(8, 7)).toEqual(['replay', 'late'])
    expect(t.get('A', 0)?.weight).toBe(2)
    // the window moves with the highest seq: what was heard stays heard, what falls out is a replay
    t.heard(entry('A', { incarnation: 7 }), 0, 20)
    expect(orders(8, 9, 10)).toEqual(['replay', 'replay', 'late'])
    t.heard(entry('A', { incarnation: 7 }), 0, 60)
    expect(orders(20, 59)).toEqual(['replay', 'late'])
  })

  it('never for a member known only from others (its first heartbeat is news)', () => {
    const t = new MemberTable(INIT)
    t.merge(entry('A', { incarnation: 7 }), 0)
    expect(t.heartbeatOrder('A', 7, 0)).toBe('new')
    expect(t.heartbeatOrder('B', 0, 0)).toBe('new')
  })
})

describe('MemberTable: hearsay and the cap', () => {
  it('a member only others told of that falls silent is dropped when it fails, not kept for redials', () => {
    const t = new MemberTable(INIT)
    t.merge(entry('A'), 0)
    expect(types(t.tick(SUSPECT))).toEqual(['member:suspect'])
    expect(types(t.tick(SUSPECT + MIN * 10))).toEqual(['member:fail'])
    expect(t.get('A', SUSPECT + MIN * 10)).toBeUndefined()
  })

  it('a member heard directly that fails stays listed (and is redialled)', () => {
    const t = new MemberTable(INIT)
    t.heard(entry('A'), 0)
    t.unreachable('A', 0)
    expect(t.get('A', 0)?.state).toBe('failed')
  })

  it('holds at most maxMembers: hearsay waits, a member heard directly evicts hearsay, never another heard member', () => {
    const full: string[] = []
    const t = new MemberTable({ ...INIT, maxMembers: 2, onFull: id => { full.push(id) } })
    t.merge(entry('A'), 0)
    t.heard(entry('B'), 0)
    expect(types(t.merge(entry('C'), 0))).toEqual([])
    expect(full).toEqual(['C'])
    // D heard itself: takes hearsay A's place
    expect(types(t.heard(entry('D'), 0))).toEqual(['member:fail', 'member:join'])
    expect(t.list(0).map(m => m.id).sort()).toEqual(['B', 'D'])
    // all rows heard directly: E waits
    expect(types(t.heard(entry('E'), 0))).toEqual([])
    expect(full).toEqual(['C', 'E'])
    expect(t.list(0)).toHaveLength(2)
  })
})

describe('Rejections', () => {
  function capture (): { log: pino.Logger, lines: Array<Record<string, unknown>> } {
    const lines: Array<Record<string, unknown>> = []
    return { lines, log: pino({ level: 'warn' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>) } }) }
  }

  it('counts every bad message by protocol and reason, logging each peer at most once a minute per reason', () => {
    const { log, lines } = capture()
    const r = new Rejections(log)
    for (let i = 0; i < 100; i++) r.reject('sync', 'schema', 'P1', 'dropped', `bad ${i}`)
    r.reject('sync', 'schema', 'P2', 'dropped')
    r.reject('sync', 'incarnation', 'P1', 'dropped')
    expect(r.counters()).toEqual([{ protocol: 'sync', reason: 'schema', count: 101 }, { protocol: 'sync', reason: 'incarnation', count: 1 }])
    expect(lines.map(l => [l.from, l.rejected, l.reason])).toEqual([['P1', 'schema', 'bad 0'], ['P2', 'schema', 'schema'], ['P1', 'incarnation', 'incarnation']])
  })
})
