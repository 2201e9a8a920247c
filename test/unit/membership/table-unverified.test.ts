import { describe, it, expect } from 'vitest'
import { MemberTable } from '../../../src/membership/table.ts'
import { suspicionTimeout } from '../../../src/membership/suspicion.ts'
import { INIT, SUSPECT, MIN, MAX, entry, suspectA, types } from './helpers.ts'

/** Heartbeats whose signer no handshake verified: anyone can mint the key, so the row is hearsay. */
describe('MemberTable: heartbeats of unverified signers', () => {
  it('list a stranger as hearsay: dropped after a few unanswered dials; a verified heartbeat makes it a member like any other', () => {
    const t = new MemberTable(INIT)
    expect(types(t.heardUnverified(entry('G'), 0))).toEqual(['member:join'])
    expect(types(t.unanswered('G', 10))).toEqual([])
    expect(types(t.unanswered('G', 20))).toEqual([])
    expect(types(t.unanswered('G', 30))).toEqual(['member:fail'])
    expect(t.get('G', 30)).toBeUndefined()
    // a genuine member: dialled as hearsay, its handshake verified it, its next heartbeat is its own word
    t.heardUnverified(entry('N'), 40)
    t.heard(entry('N'), 50)
    for (const at of [60, 70, 80]) expect(types(t.unanswered('N', at))).toEqual([])
    expect(t.get('N', 80)?.state).toBe('alive')
  })

  it('take no verified member\'s place in a full table, and a verified member takes theirs', () => {
    const full: string[] = []
    const members = new MemberTable({ ...INIT, maxMembers: 3, onFull: id => { full.push(id) } })
    for (const id of ['A', 'B', 'C']) members.heard(entry(id), 0)
    expect(members.heardUnverified(entry('G'), 0)).toEqual([])
    expect(full).toEqual(['G'])
    const ghosts = new MemberTable({ ...INIT, maxMembers: 3 })
    for (const id of ['G1', 'G2', 'G3']) ghosts.heardUnverified(entry(id), 0)
    expect(types(ghosts.heard(entry('A'), 0))).toEqual(['member:fail', 'member:join'])
    expect(ghosts.list(0).map(m => m.id).sort()).toEqual(['A', 'G2', 'G3'])
  })

  it('the same incarnation again is no liveness, only fresh figures: a watched member heard only that way is suspected when silent, and stays suspect', () => {
    const t = new MemberTable(INIT)
    t.heardUnverified(entry('G'), 0)
    for (let at = 100; at < SUSPECT; at += 100) expect(t.heardUnverified(entry('G', { load: { cpu: 0.9 } }), at)).toEqual([])
    expect(t.get('G', SUSPECT - 1)).toMatchObject({ load: { cpu: 0.9 }, lastSeenMs: SUSPECT - 1 })
    expect(types(t.tick(SUSPECT))).toEqual(['member:suspect'])
    expect(types(t.heardUnverified(entry('G', { weight: 0 }), SUSPECT + 1))).toEqual(['member:update'])
    expect(t.get('G', SUSPECT + 1)).toMatchObject({ state: 'suspect', weight: 0 })
    expect(types(t.tick(SUSPECT + MAX))).toEqual(['member:fail'])
  })

  it('a row its own signed heartbeats keep fresh is not dropped for unanswered dials; quiet, or only others\' word, it is', () => {
    const QUIET = 5000
    const t = new MemberTable(INIT)
    t.setMonitored([], 0)
    t.heardUnverified(entry('G'), 0, 0)
    t.merge(entry('H'), 0)
    for (const at of [10, 20, 30, 40]) expect(t.unanswered('G', at, QUIET)).toEqual([])
    expect(types(t.unanswered('H', 10, QUIET))).toEqual([])
    expect(types(t.unanswered('H', 20, QUIET))).toEqual([])
    expect(types(t.unanswered('H', 30, QUIET))).toEqual(['member:fail'])
    // a newer heartbeat keeps it; a replay is not one (the table is asked its order first)
    expect(t.heartbeatOrder('G', 0, 0)).toBe('replay')
    t.heardUnverified(entry('G'), 4000, 1)
    expect(types(t.unanswered('G', 8999, QUIET))).toEqual([])
    expect(types(t.unanswered('G', 9000, QUIET))).toEqual(['member:fail'])
    expect(t.get('G', 9000)).toBeUndefined()
  })

  it('news in its own word counts: a higher incarnation refutes a suspicion, left is a leave', () => {
    const t = new MemberTable(INIT)
    t.heardUnverified(entry('G'), 0)
    t.tick(SUSPECT)
    expect(types(t.heardUnverified(entry('G', { incarnation: 1 }), SUSPECT + 1))).toEqual(['member:update'])
    expect(t.get('G', SUSPECT + 1)).toMatchObject({ state: 'alive', incarnation: 1 })
    expect(types(t.heardUnverified(entry('G', { incarnation: 0, state: 'left' }), SUSPECT + 2))).toEqual([])
    expect(types(t.heardUnverified(entry('G', { incarnation: 1, state: 'left' }), SUSPECT + 3))).toEqual(['member:leave'])
    expect(types(t.heardUnverified(entry('G', { incarnation: 2 }), SUSPECT + 4))).toEqual(['member:rejoin'])
  })

  it('their claims never confirm a suspicion: a thousand minted keys count as none', () => {
    const others = ['B', 'C', 'D', 'E']
    const t = suspectA(...others)
    for (let i = 0; i < 1000; i++) t.claim(`ghost-${i}`, { id: 'A', incarnation: 0, state: 'suspect' }, SUSPECT, false)
    t.claim('B', { id: 'A', incarnation: 0, state: 'suspect' }, SUSPECT)
    const failAt = SUSPECT + Math.ceil(suspicionTimeout(1, 3, MIN, MAX))
    const at = (ms: number): string[] => {
      for (const id of others) t.heard(entry(id), ms)
      return types(t.tick(ms))
    }
    expect(at(failAt - 1)).toEqual([])
    expect(at(failAt)).toEqual(['member:fail'])
  })
})

describe('MemberTable: beats of a member known only from others', () => {
  it('are its own word on a connection its certificate authenticated: a watched hearsay member that beats is never suspected', () => {
    const t = new MemberTable(INIT)
    // a third party listed it, with an incarnation of its own choosing
    t.merge(entry('X', { incarnation: 5 }), 0)
    t.setMonitored(['X'], 0)
    const events: string[] = []
    for (let at = 100; at <= 10 * SUSPECT; at += 100) {
      events.push(...types(t.acked('X', 3, at)), ...types(t.tick(at)))
    }
    expect(events).toEqual([])
    expect(t.get('X', 10 * SUSPECT)).toMatchObject({ state: 'alive', incarnation: 3 })
    // its own word now: it is not dropped for unanswered dials
    for (const at of [1, 2, 3]) expect(t.unanswered('X', 10 * SUSPECT + at)).toEqual([])
  })
  it('a member\'s own signed word stands against a sync that claims a higher incarnation for it: no other member can freeze or rewrite its row', () => {
    const t = new MemberTable(INIT)
    t.heardUnverified(entry('X', { incarnation: 6, load: { workers: 1 } }), 0, 0)
    // another member's sync: X at an incarnation X never signed, with other figures and an address that is not X's
    expect(t.merge(entry('X', { incarnation: 1_000_000, load: { workers: 4 }, addresses: ['/ip4/10.9.9.9/tcp/1/p2p/X'] }), 10)).toEqual([])
    expect(t.get('X', 10)).toMatchObject({ incarnation: 6, load: { workers: 1 }, addresses: ['/ip4/10.0.0.1/tcp/4100/p2p/X'] })
    // and X's next heartbeats still bring its own figures
    expect(types(t.heardUnverified(entry('X', { incarnation: 6, load: { workers: 2 } }), 20, 1))).toEqual(['member:update'])
    expect(t.get('X', 20)).toMatchObject({ incarnation: 6, load: { workers: 2 } })
  })

  it('a heartbeat below the incarnation a sync listed is dropped: with no word of its own in the row, a replay of an earlier life is not told apart', () => {
    const t = new MemberTable(INIT)
    t.merge(entry('X', { incarnation: 10 }), 0)
    // X's leave in its life at incarnation 3, replayed long after: nothing
    expect(t.heardUnverified(entry('X', { incarnation: 3, state: 'left' }), 10, 7)).toEqual([])
    expect(t.heardUnverified(entry('X', { incarnation: 3, addresses: ['/ip4/10.9.9.9/tcp/1/p2p/X'] }), 20, 8)).toEqual([])
    expect(t.get('X', 20)).toMatchObject({ state: 'alive', incarnation: 10, addresses: ['/ip4/10.0.0.1/tcp/4100/p2p/X'] })
  })

  it('its own signed leave is its word too: a sync cannot lift the row over the incarnation it comes back with', () => {
    const t = new MemberTable(INIT)
    t.merge(entry('X', { incarnation: 5 }), 0)
    expect(types(t.heardUnverified(entry('X', { incarnation: 5, state: 'left' }), 10, 0))).toEqual(['member:leave'])
    expect(t.merge(entry('X', { incarnation: 1_000_000 }), 20)).toEqual([])
    expect(types(t.heardUnverified(entry('X', { incarnation: 6 }), 30, 0))).toEqual(['member:rejoin'])
    expect(t.get('X', 30)).toMatchObject({ state: 'alive', incarnation: 6 })
  })
})
