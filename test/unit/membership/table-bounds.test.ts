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
    expect(t.isReplay('A', 4, 99)).toBe(true)
  })

  it('its own signed leave is a leave; a third party\'s is not', () => {
    const t = new MemberTable(INIT)
    t.heard(entry('A'), 0)
    expect(types(t.merge(entry('A', { state: 'left', incarnation: 3 }), 10))).toEqual([])
    expect(types(t.heard(entry('A', { state: 'left' }), 20))).toEqual(['member:leave'])
  })
})

describe('MemberTable.isReplay', () => {
  it('at the known incarnation, a seq not beyond the highest heard is a replay; a new incarnation starts afresh', () => {
    const t = new MemberTable(INIT)
    t.heard(entry('A', { incarnation: 7 }), 0, 10)
    expect(t.isReplay('A', 7, 10)).toBe(true)
    expect(t.isReplay('A', 7, 3)).toBe(true)
    expect(t.isReplay('A', 7, 11)).toBe(false)
    expect(t.isReplay('A', 6, 50)).toBe(true)
    expect(t.isReplay('A', 8, 0)).toBe(false)
    t.heard(entry('A', { incarnation: 8 }), 10, 0)
    expect(t.isReplay('A', 8, 0)).toBe(true)
    expect(t.isReplay('A', 8, 1)).toBe(false)
  })

  it('never for a member known only from others (its first heartbeat is news)', () => {
    const t = new MemberTable(INIT)
    t.merge(entry('A', { incarnation: 7 }), 0)
    expect(t.isReplay('A', 7, 0)).toBe(false)
    expect(t.isReplay('B', 0, 0)).toBe(false)
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
