import { describe, it, expect } from 'vitest'
import * as v from 'valibot'
import { MemberTable } from '../../../src/membership/table.ts'
import { memberEntrySchema } from '../../../src/membership/schema.ts'
import { suspicionTimeout } from '../../../src/membership/suspicion.ts'
import { entry, INIT, SELF, SUSPECT, MIN, MAX, table, types, suspectA, failedA, leftA } from './helpers.ts'
import type { Overrides } from './helpers.ts'

const PEER = '12D3KooWQtLvNbMz3hL5w1k8HJgNmv5kZuqEU8nB4WAL8V2uvCmx'

it('entry() builds a valid MemberEntry (given a real peer id: the schema parses ids)', () => {
  expect(v.parse(memberEntrySchema, entry(PEER))).toEqual(entry(PEER))
  expect(v.parse(memberEntrySchema, entry(PEER, { weight: 3, load: { workers: 2 } })).load.workers).toBe(2)
})

describe('heard', () => {
  const NOW = 2000
  it.each([
    { name: 'unknown member joins alive', setup: () => new MemberTable(INIT), hb: entry('A'), events: ['member:join'], state: 'alive' },
    { name: 'unknown member claiming suspect joins alive', setup: () => new MemberTable(INIT), hb: entry('A', { state: 'suspect' }), events: ['member:join'], state: 'alive' },
    { name: 'self is ignored', setup: () => new MemberTable(INIT), hb: entry(SELF), events: [], state: undefined },
    { name: 'lower incarnation is ignored', setup: () => { const t = new MemberTable(INIT); t.heard(entry('A', { incarnation: 2 }), 0); return t }, hb: entry('A', { incarnation: 1, weight: 9 }), events: [], state: 'alive' },
    { name: 'suspect is alive again', setup: () => suspectA(), hb: entry('A'), events: ['member:update'], state: 'alive' },
    { name: 'failed at the same incarnation must refute', setup: () => failedA(), hb: entry('A'), events: [], state: 'failed' },
    { name: 'failed at a higher incarnation rejoins', setup: () => failedA(), hb: entry('A', { incarnation: 1 }), events: ['member:rejoin'], state: 'alive' },
    { name: 'left at the same incarnation is ignored', setup: () => leftA(), hb: entry('A'), events: [], state: 'left' },
    { name: 'left at a higher incarnation rejoins', setup: () => leftA(), hb: entry('A', { incarnation: 1 }), events: ['member:rejoin'], state: 'alive' },
    { name: 'state left from an alive member leaves', setup: () => table('A'), hb: entry('A', { state: 'left' }), events: ['member:leave'], state: 'left' },
    { name: 'state left from a failed member leaves', setup: () => failedA(), hb: entry('A', { state: 'left' }), events: ['member:leave'], state: 'left' },
    { name: 'state left twice leaves once', setup: () => leftA(), hb: entry('A', { state: 'left' }), events: [], state: 'left' },
    { name: 'state left at a lower incarnation is ignored', setup: () => { const t = new MemberTable(INIT); t.heard(entry('A', { incarnation: 3 }), 0); return t }, hb: entry('A', { incarnation: 2, state: 'left' }), events: [], state: 'alive' }
  ])('$name', ({ setup, hb, events, state }) => {
    const t = setup()
    const out = t.heard(hb, NOW)
    expect(types(out)).toEqual(events)
    expect(t.get(hb.id, NOW)?.state).toBe(state)
    for (const e of out) expect(e.member).toEqual(t.get(hb.id, NOW))
  })

  it.each<{ name: string, change: Overrides, event: boolean }>([
    { name: 'load.cpu', change: { load: { cpu: 0.9 } }, event: false },
    { name: 'load.memoryFreeMb', change: { load: { memoryFreeMb: 12 } }, event: false },
    { name: 'load.cpu and load.memoryFreeMb', change: { load: { cpu: 0.5, memoryFreeMb: 1 } }, event: false },
    { name: 'nothing', change: {}, event: false },
    { name: 'weight', change: { weight: 5 }, event: true },
    { name: 'strategy', change: { strategy: 'vertical' }, event: true },
    { name: 'role', change: { role: 'agent' }, event: true },
    { name: 'load.workers', change: { load: { workers: 2 } }, event: true },
    { name: 'addresses', change: { addresses: ['/ip4/10.0.0.2/tcp/4100'] }, event: true },
    { name: 'incarnation', change: { incarnation: 1 }, event: true }
  ])('a change of $name emits update: $event', ({ change, event }) => {
    const t = table('A')
    const out = t.heard(entry('A', change), 100)
    expect(types(out)).toEqual(event ? ['member:update'] : [])
    // the new figures are kept either way
    expect(t.get('A', 100)).toMatchObject({ ...entry('A', change), lastSeenMs: 0 })
  })
})

describe('tick', () => {
  it.each([
    { silentMs: SUSPECT - 1, events: [] },
    { silentMs: SUSPECT, events: ['member:suspect'] },
    { silentMs: SUSPECT * 5, events: ['member:suspect'] }
  ])('an alive member silent for $silentMs ms: $events', ({ silentMs, events }) => {
    const t = table('A')
    expect(types(t.tick(silentMs))).toEqual(events)
    expect(types(t.tick(silentMs))).toEqual([]) // no repeat
  })

  // 5 members: expected confirmations = min(3, 5 - 1) = 3
  it.each([
    { name: 'no confirmations fail at max', from: [], timeout: MAX },
    { name: 'three distinct confirmations fail at min', from: ['B', 'C', 'D'], timeout: MIN },
    { name: 'four confirmations still fail at min', from: ['B', 'C', 'D', 'E'], timeout: MIN },
    { name: 'the same member thrice counts once', from: ['B', 'B', 'B'], timeout: suspicionTimeout(1, 3, MIN, MAX) },
    { name: 'two distinct confirmations', from: ['B', 'C', 'B'], timeout: suspicionTimeout(2, 3, MIN, MAX) },
    { name: 'our own claim is no confirmation', from: [SELF, 'B'], timeout: suspicionTimeout(1, 3, MIN, MAX) }
  ])('suspicion timeout: $name', ({ from, timeout }) => {
    const others = ['B', 'C', 'D', 'E']
    const t = suspectA(...others)
    for (const f of from) t.claim(f, { id: 'A', incarnation: 0, state: f === 'C' ? 'failed' : 'suspect' }, SUSPECT)
    const at = (ms: number): string[] => {
      for (const id of others) t.heard(entry(id), ms)
      return types(t.tick(ms))
    }
    const failAt = SUSPECT + Math.ceil(timeout)
    expect(at(failAt - 1)).toEqual([])
    expect(t.get('A', failAt - 1)?.state).toBe('suspect')
    expect(at(failAt)).toEqual(['member:fail'])
    expect(t.get('A', failAt)?.state).toBe('failed')
  })

  it.each([
    { name: 'claims before the suspicion', before: true, incarnation: 0 },
    { name: 'claims about an older incarnation', before: false, incarnation: 0 }
  ])('$name are no confirmations', ({ before, incarnation }) => {
    const t = new MemberTable(INIT)
    t.heard(entry('A', { incarnation: 1 }), 0)
    for (const id of ['B', 'C', 'D', 'E']) t.heard(entry(id), 0)
    const claimAll = (now: number): void => { for (const f of ['B', 'C', 'D']) t.claim(f, { id: 'A', incarnation: before ? 1 : incarnation, state: 'suspect' }, now) }
    if (before) claimAll(SUSPECT - 1)
    for (const id of ['B', 'C', 'D', 'E']) t.heard(entry(id), SUSPECT)
    t.tick(SUSPECT)
    if (!before) claimAll(SUSPECT)
    for (const id of ['B', 'C', 'D', 'E']) t.heard(entry(id), SUSPECT + MIN)
    expect(types(t.tick(SUSPECT + MIN))).toEqual([])
  })

  it.each([
    { name: 'failed', make: () => failedA(), forgetMs: INIT.forgetFailedAfterMs },
    { name: 'left', make: () => leftA(), forgetMs: INIT.forgetLeftAfterMs }
  ])('$name rows are forgotten after their time', ({ name, make, forgetMs }) => {
    const t = make()
    expect(t.tick(forgetMs)).toEqual([])
    expect(t.forget(forgetMs)).toEqual([])
    expect(t.get('A', forgetMs)).toBeDefined()
    expect(t.tick(forgetMs + 1)).toEqual([])
    // forget returns what it dropped (membership remembers it for `grid status --all`)
    expect(t.forget(forgetMs + 1)).toMatchObject([{ id: 'A', state: name }])
    expect(t.get('A', forgetMs + 1)).toBeUndefined()
  })

  it('alive and suspect rows are never forgotten', () => {
    const t = suspectA('B')
    expect(t.forget(10 * INIT.forgetLeftAfterMs)).toEqual([])
    expect(t.list(0).map(m => m.id).sort()).toEqual(['A', 'B'])
  })

  it('slowness stretches the silence before a suspicion', () => {
    const t = table('A')
    t.setSlowness(2)
    expect(t.tick(SUSPECT)).toEqual([])
    expect(types(t.tick(2 * SUSPECT))).toEqual(['member:suspect'])
  })
})

describe('liveReport', () => {
  const NOW = SUSPECT + 100
  it.each([
    { name: 'a fresh report revives a suspect', setup: () => suspectA(), ageMs: 50, incarnation: 0, events: ['member:update'], state: 'alive' },
    { name: 'a report of a time the suspicion began revives', setup: () => suspectA(), ageMs: NOW - SUSPECT, incarnation: 0, events: ['member:update'], state: 'alive' },
    { name: 'a report from before the suspicion began does not (no news)', setup: () => suspectA(), ageMs: NOW - SUSPECT + 1, incarnation: 0, events: [], state: 'suspect' },
    { name: 'a stale report does not', setup: () => suspectA(), ageMs: 5000, incarnation: 0, events: [], state: 'suspect' },
    { name: 'a report of exactly suspectAfterMs does not', setup: () => suspectA(), ageMs: SUSPECT, incarnation: 0, events: [], state: 'suspect' },
    { name: 'an older incarnation does not', setup: () => { const t = new MemberTable(INIT); t.heard(entry('A', { incarnation: 2 }), 0); t.tick(SUSPECT); return t }, ageMs: 0, incarnation: 1, events: [], state: 'suspect' },
    { name: 'an alive member gets no event', setup: () => table('A'), ageMs: 0, incarnation: 0, events: [], state: 'alive' },
    { name: 'a failed member is not revived', setup: () => failedA(), ageMs: 0, incarnation: 0, events: [], state: 'failed' },
    { name: 'an unknown member is ignored', setup: () => table('B'), ageMs: 0, incarnation: 0, events: [], state: undefined }
  ])('$name', ({ setup, ageMs, incarnation, events, state }) => {
    const t = setup()
    expect(types(t.liveReport({ id: 'A', incarnation, ageMs }, NOW))).toEqual(events)
    expect(t.get('A', NOW)?.state).toBe(state)
  })
})

describe('live reports defer a failure only so long', () => {
  it('a member silent on its own for suspectAfterMs + suspicionMaxMs fails, however often others say they hear it', () => {
    const t = table('A')
    let failedAt: number | undefined
    // a (hostile) third party reports A as heard just now at every tick; A itself says nothing after time 0
    for (let now = 0; now <= 20 * (SUSPECT + MAX) && failedAt == null; now += 50) {
      t.liveReport({ id: 'A', incarnation: 0, ageMs: 0 }, now)
      if (t.tick(now).some(e => e.type === 'member:fail')) failedAt = now
    }
    expect(failedAt).toBeDefined()
    // past the bound no report refutes; the suspicion then runs its course (at most suspicionMaxMs)
    expect(failedAt!).toBeLessThanOrEqual(2 * (SUSPECT + MAX) + 100)
  })

  it('within the bound a live report still refutes a suspicion (a member heard by others, briefly not by us)', () => {
    const t = suspectA()
    expect(types(t.liveReport({ id: 'A', incarnation: 0, ageMs: 0 }, SUSPECT + 100))).toEqual(['member:update'])
  })
})

describe('unreachable', () => {
  it.each([
    { name: 'alive fails at once', setup: () => table('A'), events: ['member:fail'], state: 'failed' },
    { name: 'suspect fails at once', setup: () => suspectA(), events: ['member:fail'], state: 'failed' },
    { name: 'left stays left', setup: () => leftA(), events: [], state: 'left' },
    { name: 'failed gives no second event', setup: () => failedA(), events: [], state: 'failed' },
    { name: 'an unknown id is ignored', setup: () => table('B'), events: [], state: undefined }
  ])('$name', ({ setup, events, state }) => {
    const t = setup()
    expect(types(t.unreachable('A', SUSPECT + 1))).toEqual(events)
    expect(t.get('A', SUSPECT + 1)?.state).toBe(state)
  })
})

describe('merge', () => {
  const withA = (incarnation: number) => () => { const t = new MemberTable(INIT); t.heard(entry('A', { incarnation }), 0); return t }
  it.each([
    { name: 'unknown alive joins', setup: () => new MemberTable(INIT), e: entry('A'), now: 0, events: ['member:join'], state: 'alive' },
    { name: 'unknown suspect joins alive', setup: () => new MemberTable(INIT), e: entry('A', { state: 'suspect' }), now: 0, events: ['member:join'], state: 'alive' },
    { name: 'unknown failed is not listed (a third party cannot say so)', setup: () => new MemberTable(INIT), e: entry('A', { state: 'failed' }), now: 0, events: [], state: undefined },
    { name: 'unknown left is not listed (no news to a member that never saw it)', setup: () => new MemberTable(INIT), e: entry('A', { state: 'left' }), now: 0, events: [], state: undefined },
    { name: 'self is ignored', setup: () => new MemberTable(INIT), e: entry(SELF, { state: 'failed' }), now: 0, events: [], state: undefined },
    { name: 'failed while we hear it is contested', setup: withA(0), e: entry('A', { state: 'failed' }), now: SUSPECT - 1, events: [], state: 'alive' },
    { name: 'failed after suspectAfterMs of silence is only a hint: our own detection decides', setup: withA(0), e: entry('A', { state: 'failed' }), now: SUSPECT, events: [], state: 'alive' },
    { name: 'failed for a silent suspect is only a hint', setup: () => suspectA(), e: entry('A', { state: 'failed' }), now: SUSPECT + 1, events: [], state: 'suspect' },
    { name: 'failed at a lower incarnation is ignored', setup: withA(2), e: entry('A', { state: 'failed', incarnation: 1 }), now: 5000, events: [], state: 'alive' },
    { name: 'left from a third party is only a hint (only the member itself leaves)', setup: withA(0), e: entry('A', { state: 'left' }), now: 100, events: [], state: 'alive' },
    { name: 'left at 2^53-1 from a third party is only a hint', setup: withA(0), e: entry('A', { state: 'left', incarnation: Number.MAX_SAFE_INTEGER }), now: 100, events: [], state: 'alive' },
    { name: 'suspect at the same incarnation is weaker than hearing', setup: withA(0), e: entry('A', { state: 'suspect' }), now: 100, events: [], state: 'alive' },
    { name: 'higher-incarnation alive for failed does not revive it: its own heartbeat must', setup: () => failedA(), e: entry('A', { incarnation: 1 }), now: 100, events: [], state: 'failed' },
    { name: 'higher-incarnation alive for left does not revive it', setup: () => leftA(), e: entry('A', { incarnation: 1 }), now: 100, events: [], state: 'left' },
    { name: 'same-incarnation alive for failed is ignored', setup: () => failedA(), e: entry('A'), now: 100, events: [], state: 'failed' },
    { name: 'failed for a left member is ignored', setup: () => leftA(), e: entry('A', { state: 'failed' }), now: 5000, events: [], state: 'left' }
  ])('$name', ({ setup, e, now, events, state }) => {
    const t = setup()
    expect(types(t.merge(e, now))).toEqual(events)
    expect(t.get(e.id, now)?.state).toBe(state)
  })

  it('a contested member is reported in hears() while we still hear it', () => {
    const t = table('A')
    expect(t.hears(500)).toEqual([])
    t.merge(entry('A', { state: 'failed' }), 500)
    expect(t.hears(500)).toEqual([{ id: 'A', incarnation: 0, ageMs: 500 }])
    expect(t.hears(SUSPECT)).toEqual([]) // we no longer hear it ourselves
  })
})

describe('hears', () => {
  it.each([
    { name: 'a claim from another member contests', contest: (t: MemberTable) => t.claim('B', { id: 'A', incarnation: 0, state: 'suspect' }, 100), at: 200, reported: true },
    { name: 'the contest expires after suspectAfterMs', contest: (t: MemberTable) => t.claim('B', { id: 'A', incarnation: 0, state: 'failed' }, 100), at: 100 + SUSPECT, reported: false },
    { name: 'an uncontested member is not reported', contest: () => {}, at: 200, reported: false }
  ])('$name', ({ contest, at, reported }) => {
    const t = table('A', 'B')
    t.heard(entry('A'), at - 50)
    contest(t)
    expect(t.hears(at)).toEqual(reported ? [{ id: 'A', incarnation: 0, ageMs: 50 }] : [])
  })
})

describe('forgive', () => {
  it.each([
    { forgive: false, events: ['member:suspect', 'member:suspect'] },
    { forgive: true, events: [] }
  ])('after a long silence, forgive=$forgive', ({ forgive, events }) => {
    const t = table('A', 'B')
    if (forgive) t.forgive(10_000)
    expect(types(t.tick(10_000))).toEqual(events)
    if (forgive) {
      expect(t.tick(10_000 + SUSPECT - 1)).toEqual([])
      expect(types(t.tick(10_000 + SUSPECT))).toEqual(['member:suspect', 'member:suspect'])
    }
  })

  it('restarts the suspicion timer and leaves failed members failed', () => {
    const t = suspectA('B') // A suspect since SUSPECT
    t.unreachable('B', SUSPECT) // only A is left to count: expected confirmations 0, so the timeout is MIN
    const f = SUSPECT + MIN - 1
    t.forgive(f)
    expect(t.tick(SUSPECT + MIN)).toEqual([]) // would have failed without forgive
    expect(t.tick(f + MIN - 1)).toEqual([])
    expect(types(t.tick(f + MIN))).toEqual(['member:fail'])
    expect(t.get('B', f + MIN)?.state).toBe('failed')
  })
})

describe('suspects', () => {
  it('lists suspect and recently failed members with their incarnation', () => {
    const t = new MemberTable(INIT)
    for (const id of ['A', 'B', 'C', 'D']) t.heard(entry(id, { incarnation: id === 'A' ? 3 : 1 }), 0)
    t.unreachable('C', 0) // failed long ago by the time we ask
    for (const id of ['A', 'B', 'D']) t.heard(entry(id, { incarnation: id === 'A' ? 3 : 1 }), 10_000)
    t.unreachable('B', 10_500)
    t.heard(entry('D', { incarnation: 1 }), 10_900)
    expect(types(t.tick(11_000))).toEqual(['member:suspect'])
    const claims = t.suspects(11_000).sort((x, y) => x.id.localeCompare(y.id))
    expect(claims).toEqual([
      { id: 'A', incarnation: 3, state: 'suspect' },
      { id: 'B', incarnation: 1, state: 'failed' }
    ])
  })
})

describe('list', () => {
  it('never contains self, whatever comes in', () => {
    const t = table('A')
    t.heard(entry(SELF), 0)
    t.heard(entry(SELF, { state: 'left' }), 0)
    t.merge(entry(SELF), 0)
    t.merge(entry(SELF, { state: 'failed', incarnation: 9 }), 0)
    t.claim('A', { id: SELF, incarnation: 0, state: 'failed' }, 0)
    t.liveReport({ id: SELF, incarnation: 0, ageMs: 0 }, 0)
    t.unreachable(SELF, 0)
    t.tick(SUSPECT * 2)
    expect(t.list(SUSPECT * 2).map(m => m.id)).toEqual(['A'])
    expect(t.get(SELF, 0)).toBeUndefined()
  })

  it.each([
    { heardAt: 0, now: 0, lastSeenMs: 0 },
    { heardAt: 0, now: 750, lastSeenMs: 750 },
    { heardAt: 400, now: 1000, lastSeenMs: 600 },
    { heardAt: 100, now: 100 + 3 * SUSPECT, lastSeenMs: 3 * SUSPECT } // still counts while suspect
  ])('heard at $heardAt, listed at $now: lastSeenMs $lastSeenMs', ({ heardAt, now, lastSeenMs }) => {
    const t = table('B')
    t.heard(entry('A'), heardAt)
    t.tick(now)
    expect(t.list(now).find(m => m.id === 'A')).toEqual({ ...entry('A'), state: t.get('A', now)?.state, lastSeenMs })
  })
})

describe('regressions', () => {
  it('a live report keeps the time the member was actually heard', () => {
    const t = suspectA()
    const now = SUSPECT + 100
    expect(types(t.liveReport({ id: 'A', incarnation: 0, ageMs: 80 }, now))).toEqual(['member:update'])
    expect(t.get('A', now)?.lastSeenMs).toBe(80)
    // suspected again once that report is suspectAfterMs old, not suspectAfterMs after it arrived
    expect(types(t.tick(now - 80 + SUSPECT - 1))).toEqual([])
    expect(types(t.tick(now - 80 + SUSPECT))).toEqual(['member:suspect'])
  })

  it('members that failed or left before we joined are not listed, nor gossiped as fresh failures', () => {
    const t = new MemberTable(INIT)
    t.merge(entry('A', { state: 'failed' }), 5000)
    t.merge(entry('B', { state: 'left' }), 5000)
    expect(t.suspects(5000)).toEqual([])
    expect(t.get('A', 5000)).toBeUndefined()
    expect(t.get('B', 5000)).toBeUndefined()
  })

  it('a newer incarnation with a changed weight, learned by sync for a member known only by sync, is an update', () => {
    const t = new MemberTable(INIT)
    t.merge(entry('A'), 0)
    expect(types(t.merge(entry('A', { incarnation: 1, weight: 2 }), 10))).toEqual(['member:update'])
    expect(t.get('A', 10)?.weight).toBe(2)
  })

  it('a member heard directly is not updated by sync: its own heartbeats say what it is', () => {
    const t = table('A')
    expect(types(t.merge(entry('A', { incarnation: 1, weight: 2 }), 10))).toEqual([])
    expect(t.get('A', 10)).toMatchObject({ weight: 1, incarnation: 0 })
  })
})
