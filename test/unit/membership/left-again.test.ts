import { describe, it, expect } from 'vitest'
import { MembershipCore } from '../../../src/membership/core.ts'
import { resolveMembershipConfig } from '../../../src/membership/config.ts'
import type { Heartbeat, MemberEntry } from '../../../src/membership/schema.ts'
import { entry } from './entry.ts'

const NOW = 1_800_000_000_000
const FIRST = NOW - 30_000
const SECOND = NOW - 1000

function core (): MembershipCore {
  return new MembershipCore(resolveMembershipConfig({}), entry('me', { incarnation: NOW }), 0, { reject: () => {}, certify: e => e, wallNow: () => NOW })
}
const heartbeat = (seq: number, member: MemberEntry): Heartbeat => ({ v: 1, seq, member, suspects: [], hears: [] })

/**
 * A member stopped (left), was started again with the same key (a higher incarnation) and stopped
 * again soon after, while this node still listed its first leave. gossipsub keeps no order: the
 * second leave may come before the alive heartbeats of that life.
 */
/** The first leave, then the second life's leave before its first (alive) heartbeat: nothing listed alive again. */
function leftTwice (c: MembershipCore): void {
  c.onHeartbeat(heartbeat(0, entry('x', { incarnation: FIRST })), 'x', 0)
  c.onHeartbeat(heartbeat(1, entry('x', { incarnation: FIRST, state: 'left' })), 'x', 10)
  expect(c.table.get('x', 10)?.state).toBe('left')
  // second life: its leave (seq 1) first, then its first heartbeat (seq 0), late
  c.onHeartbeat(heartbeat(1, entry('x', { incarnation: SECOND, state: 'left' })), 'x', 20)
  const { events } = c.onHeartbeat(heartbeat(0, entry('x', { incarnation: SECOND })), 'x', 30)
  expect(events.map(e => e.type)).toEqual([])
  expect(c.table.get('x', 30)).toMatchObject({ state: 'left', incarnation: SECOND })
}

/** A core that heard x leave at FIRST and forgot its row (61 s later, at 61_010). */
function leftAndForgotten (): MembershipCore {
  const c = core()
  c.onHeartbeat(heartbeat(0, entry('x', { incarnation: FIRST })), 'x', 0)
  c.onHeartbeat(heartbeat(1, entry('x', { incarnation: FIRST, state: 'left' })), 'x', 10)
  c.tick(10 + 61_000)
  expect(c.table.get('x', 10 + 61_000)).toBeUndefined()
  return c
}

describe('MembershipCore: a member that left, restarted and left again', () => {
  it('its leave is noted at the new incarnation, so an alive heartbeat of that life that comes late does not list it alive again', () => {
    leftTwice(core())
  })

  it('the same once its first leave was forgotten (remembered apart): already right', () => {
    const c = leftAndForgotten()
    c.onHeartbeat(heartbeat(1, entry('x', { incarnation: SECOND, state: 'left' })), 'x', 61_020)
    const { events } = c.onHeartbeat(heartbeat(0, entry('x', { incarnation: SECOND })), 'x', 61_030)
    expect(events.map(e => e.type)).toEqual([])
    expect(c.table.get('x', 61_030)?.state).toBe('left')
  })
})

describe('MembershipCore: the same for a member known only from heartbeats no handshake verified', () => {
  it('its second leave holds too', () => {
    leftTwice(new MembershipCore(resolveMembershipConfig({}), entry('me', { incarnation: NOW }), 0, { reject: () => {}, certify: e => e, wallNow: () => NOW, verified: () => false }))
  })
})

describe('MembershipCore: a member that left and was forgotten, listed alive by a stale sync', () => {
  it('is not listed again at the incarnation it left with (a later life is)', () => {
    const c = leftAndForgotten()
    // another member's table, written before it heard the leave
    const stale = c.onSync([entry('x', { incarnation: FIRST })], 'y', 61_020)
    expect(stale.events.map(e => e.type)).toEqual([])
    expect(c.table.get('x', 61_020)).toBeUndefined()
    // a restart (a higher incarnation) is news
    const restarted = c.onSync([entry('x', { incarnation: SECOND })], 'y', 61_030)
    expect(restarted.events.map(e => e.type)).toEqual(['member:join'])
  })
})
