import { it, expect } from 'vitest'
import pino from 'pino'
import { Firer } from '../../../src/schedules/firer.ts'
import { ScheduleStore } from '../../../src/schedules/store.ts'
import { makeSchedule } from '../../../src/schedules/spec.ts'
import { ADVERT_STALE_MS, FreshAdverts } from '../../../src/leases/fresh-adverts.ts'
import { electHolder } from '../../../src/leases/election.ts'
import type { Member } from '../../../src/membership/member.ts'
import { memoryChannel } from '../schedules/memory-channel.ts'

it('an advert that stops changing ages out after ADVERT_STALE_MS of this node\'s clock; one that changes again is fresh at once; one without `at` never ages', () => {
  const fresh = new FreshAdverts()
  const adverts = new Map([['A', { tasks: ['t'], at: 5 }], ['old', { tasks: ['t'] }]])
  expect([...fresh.fresh(adverts, 0).keys()]).toEqual(['A', 'old'])
  expect([...fresh.fresh(adverts, ADVERT_STALE_MS - 1).keys()]).toEqual(['A', 'old'])
  expect([...fresh.fresh(adverts, ADVERT_STALE_MS).keys()]).toEqual(['old'])
  adverts.set('A', { tasks: ['t'], at: 6 })
  expect([...fresh.fresh(adverts, ADVERT_STALE_MS + 1).keys()]).toEqual(['A', 'old'])
})

it('a firer no longer elects an alive member whose advert stopped being refreshed (restarted without the API): another fires its schedule', () => {
  let now = 1_000_000
  const channel = memoryChannel('schedules', 'A', () => now)
  const store = new ScheduleStore(channel)
  // a schedule id that rendezvous hashing gives to C while C advertises
  const id = Array.from({ length: 100 }, (_, i) => `job-${i}`).find(candidate => electHolder(candidate, ['A', 'C']) === 'C')!
  store.put(makeSchedule({ id, task: 'tick', everyMs: 1000, overlap: 'allow' }, 'alice', now))
  store.advertise('C', { tasks: ['tick'], at: now })
  const fired: number[] = []
  const members = (): Member[] => [{ id: 'C', state: 'alive' } as unknown as Member]
  const tasks = { submit: () => { fired.push(now); return { settled: Promise.resolve(), final: true } }, registeredModule: () => '/tick.mjs' }
  const firer = new Firer({ self: 'A', store, tasks: tasks as never, members, log: pino({ level: 'silent' }) }, { now: () => now })
  const step = (ms: number): void => {
    for (const end = now + ms; now < end;) {
      now += 100
      // A refreshes its own advert as its ScheduleService does; C's stays as it was left
      if (now % 15_000 === 0 || store.candidates().get('A') == null) store.advertise('A', { tasks: ['tick'], at: now })
      firer.step()
    }
  }
  step(10_000)
  expect(firer.view(store.schedule(id)!).firer).toBe('C')
  expect(fired).toEqual([])
  step(ADVERT_STALE_MS)
  expect(firer.view(store.schedule(id)!).firer).toBe('A')
  expect(fired.length).toBeGreaterThan(0)
})

it('an advert seen for the first time is judged by its writer\'s `at`, allowing for the channels\' 60 s of clock skew: a node starting does not elect one the others aged out long ago', () => {
  const now = 10_000_000
  const fresh = new FreshAdverts()
  const adverts = new Map([['gone', { tasks: ['t'], at: now - 600_000 }], ['skewed', { tasks: ['t'], at: now - 90_000 }]])
  expect([...fresh.fresh(adverts, now).keys()]).toEqual(['skewed'])
  // and the one left out stays out until it changes
  expect([...fresh.fresh(adverts, now + 1000).keys()]).toEqual(['skewed'])
  adverts.set('gone', { tasks: ['t'], at: now + 1000 })
  expect([...fresh.fresh(adverts, now + 2000).keys()]).toEqual(['gone', 'skewed'])
})

it('an advert unchanged for 12 stale ages (an hour at least) of a peer that is no alive member is abandoned; an alive member\'s, an older node\'s (no `at`) and a younger one are not', () => {
  const fresh = new FreshAdverts(ADVERT_STALE_MS)
  const adverts = new Map([['gone', { at: 5 }], ['alive', { at: 5 }], ['old', {}], ['young', { at: 5 }]])
  fresh.fresh(new Map([...adverts].filter(([peer]) => peer !== 'young')), 0)
  fresh.fresh(adverts, 3_000_000)
  const alive = (): Set<string> => new Set(['alive'])
  expect(fresh.abandoned(3_599_999, alive)).toEqual([])
  // looked at once a minute: not again at once
  expect(fresh.abandoned(3_600_000, alive)).toEqual([])
  expect(fresh.abandoned(3_660_000, alive)).toEqual(['gone'])
})

it('a node holding a CRL that revokes its own certificate is no candidate of its own leases, whatever it sees of the others', () => {
  const fresh = new FreshAdverts()
  const adverts = new Map([['self', { at: 0 }], ['B', { at: 0 }]])
  const view = { alive: new Set<string>(), self: 'self', selfAheadMs: 0 }
  // cut off from every member (they dropped it), it sees them all dead: before, it was the only candidate
  expect([...fresh.candidates(adverts, 0, view).keys()]).toEqual(['self'])
  expect([...fresh.candidates(adverts, 0, { ...view, selfRevoked: true }).keys()]).toEqual([])
  expect([...fresh.candidates(adverts, 0, { ...view, alive: new Set(['B']), selfRevoked: true }).keys()]).toEqual(['B'])
})
