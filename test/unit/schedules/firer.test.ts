import { describe, it, expect } from 'vitest'
import pino from 'pino'
import { Firer } from '../../../src/schedules/firer.ts'
import { ScheduleStore } from '../../../src/schedules/store.ts'
import { makeSchedule } from '../../../src/schedules/spec.ts'
import { SCHEDULES_CHANNEL } from '../../../src/schedules/types.ts'
import type { Member } from '../../../src/membership/member.ts'
import { ReplicaSet, memoryChannel } from './memory-channel.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { ADVERT_STALE_MS } from '../../../src/leases/fresh-adverts.ts'

const log = pino({ level: 'silent' })
const PEERS = ['A', 'B', 'C']

/** Three firers on one fake clock over replicas whose gossip is delivered every step (except to and from the paused). */
function grid (spec: Record<string, unknown>, { start = 1_000_000, ...init }: { maxCatchup?: number, start?: number } = {}) {
  let now = start
  const clock = (): number => now
  const replicas = new ReplicaSet(SCHEDULES_CHANNEL, PEERS, clock)
  const fired: Array<{ peer: string, tick: number }> = []
  const paused = new Set<string>()
  const firers = new Map<string, Firer>()
  for (const peer of PEERS) {
    const store = new ScheduleStore(replicas.get(peer))
    store.advertise(peer, { tasks: ['tick'] })
    // membership as every running member sees it: the paused are not alive to the others
    const members = (): Member[] => PEERS.filter(p => p !== peer).map(p => ({ id: p, state: paused.has(p) ? 'suspect' : 'alive' }) as unknown as Member)
    const tasks = {
      submit: (_name: string, input: unknown) => {
        fired.push({ peer, tick: (input as { scheduledAt: number }).scheduledAt })
        return { settled: Promise.resolve(), final: true }
      },
      registeredModule: () => '/tick.mjs'
    }
    firers.set(peer, new Firer({ self: peer, store, tasks: tasks as never, members, log }, { now: clock, ...init }))
  }
  replicas.deliver()
  new ScheduleStore(replicas.get('A')).put(makeSchedule({ task: 'tick', envelope: true, overlap: 'allow', ...spec }, 'alice', now))
  replicas.deliver()
  return {
    fired,
    paused,
    replicas,
    get now () { return now },
    /** Advances the clock by `ms` in 100 ms steps; every running firer steps, then gossip is delivered. */
    advance (ms: number): void {
      for (const end = now + ms; now < end;) {
        now += 100
        for (const [peer, firer] of firers) if (!paused.has(peer)) firer.step()
        replicas.deliver([...paused])
      }
    },
    /** A paused firer that wakes: its own step runs before it reads the grid's news (timers before I/O). */
    wake (peer: string): void {
      paused.delete(peer)
      firers.get(peer)!.step()
      replicas.deliver()
    }
  }
}

function perTick (fired: Array<{ tick: number }>): Map<number, number> {
  const counts = new Map<number, number>()
  for (const f of fired) counts.set(f.tick, (counts.get(f.tick) ?? 0) + 1)
  return counts
}

describe('Firer (three replicas, fake clock)', () => {
  it('fires every tick exactly once, from one elected node', () => {
    const g = grid({ id: 'beat', everyMs: 2000 })
    g.advance(30_000)
    const counts = perTick(g.fired)
    expect(counts.size).toBeGreaterThanOrEqual(14)
    expect([...counts.values()].every(n => n === 1)).toBe(true)
    expect(new Set(g.fired.map(f => f.peer)).size).toBe(1)
  })

  it('a firer paused for 5 s misses at most one tick, and on waking fires none its successor fired', () => {
    const g = grid({ id: 'beat', everyMs: 2000 })
    g.advance(10_000)
    const firer = g.fired[0]!.peer
    const start = g.fired[0]!.tick
    g.paused.add(firer)
    g.advance(5000)
    g.wake(firer)
    g.advance(15_000)
    const counts = perTick(g.fired)
    expect([...counts.values()].every(n => n === 1)).toBe(true)
    const end = Math.max(...counts.keys())
    let missed = 0
    for (let t = start; t <= end; t += 2000) if (!counts.has(t)) missed++
    expect(missed).toBeLessThanOrEqual(1)
    expect(new Set(g.fired.map(f => f.peer)).size).toBeGreaterThanOrEqual(2)
  })

  it('a successor handing the lease back (the paused firer is elected again) fires the tick due at that very step', () => {
    const g = grid({ id: 'beat', everyMs: 2000 })
    g.advance(10_000)
    const firer = g.fired[0]!.peer
    g.paused.add(firer)
    g.advance(5000)
    // wake the firer 100 ms before a tick: the successor's next step, at the tick, is its last as the elected
    while ((g.now + 100) % 2000 !== 0) g.advance(100)
    const tick = g.now + 100
    g.wake(firer)
    g.advance(100)
    g.advance(15_000)
    expect(g.fired.filter(f => f.tick === tick)).toHaveLength(1)
    expect([...perTick(g.fired).values()].every(n => n === 1)).toBe(true)
  })

  it('catchup: false fires nothing missed in a downtime of every API node; catchup: true fires each missed tick once, the latest maxCatchup', () => {
    for (const [catchup, maxCatchup] of [[false, 100], [true, 100], [true, 10]] as const) {
      const g = grid({ id: 'c', everyMs: 1000, catchup }, { maxCatchup })
      g.advance(3000)
      const lastBefore = Math.max(...g.fired.map(f => f.tick))
      for (const p of PEERS) g.paused.add(p)
      g.advance(60_000)
      const resumedAt = g.now
      for (const p of PEERS) g.paused.delete(p)
      g.advance(10_000)
      const counts = perTick(g.fired)
      expect([...counts.values()].every(n => n === 1)).toBe(true)
      // ticks of the downtime older than the misfire grace (5 s): missed, or caught up
      const old = [...counts.keys()].filter(t => t > lastBefore && t < resumedAt - 5000)
      if (!catchup) expect(old).toEqual([])
      // the ticks inside the lease its holder had when paused (<= 1.5 s) stay its own: not caught up by another
      else if (maxCatchup === 100) expect(old.length).toBeGreaterThanOrEqual((resumedAt - 5000 - lastBefore) / 1000 - 1 - 2)
      else expect(old.length).toBeLessThanOrEqual(10)
    }
  })

  it('a cron schedule made inside the repeated hour (autumn DST) fires no tick dated before it was made', () => {
    // 01:10Z on 2025-10-26 is 02:10 in Paris for the second time; croner answered the first pass's 02:15 (00:15Z),
    // and the firer fired 00:10Z-00:55Z at once, ticks an hour older than the schedule
    const createdAt = Date.parse('2025-10-26T01:10:00Z')
    const g = grid({ id: 'dst', cron: '0 */5 * * * *', timezone: 'Europe/Paris' }, { start: createdAt })
    g.advance(10 * 60_000)
    expect(g.fired.filter(f => f.tick <= createdAt)).toEqual([])
    expect([...perTick(g.fired).entries()]).toEqual([[createdAt + 300_000, 1], [createdAt + 600_000, 1]])
  })

  it('a schedule no one can parse (written by a member past the API) is skipped; the others fire', () => {
    const g = grid({ id: 'good', everyMs: 1000 })
    g.replicas.get('B').set('s/bad', { ...makeSchedule({ id: 'bad', everyMs: 1000, task: 'tick' }, 'x', 0), everyMs: undefined, cron: 'not a pattern' })
    g.advance(5000)
    expect(g.fired.length).toBeGreaterThanOrEqual(3)
  })

  it('a paused schedule fires nothing', () => {
    const g = grid({ id: 'p', everyMs: 1000, paused: true })
    g.advance(5000)
    expect(g.fired).toEqual([])
  })
})

describe('Firer (one node)', () => {
  function firerOver (schedules: number) {
    let now = 1_000_000
    const channel = memoryChannel('schedules', 'A', () => now)
    const store = new ScheduleStore(channel)
    store.advertise('A', { tasks: ['tick'] })
    for (let i = 0; i < schedules; i++) store.put(makeSchedule({ id: `s${i}`, task: 'tick', everyMs: 1000, envelope: true, overlap: 'allow' }, 'alice', now))
    const fired: number[] = []
    const tasks = { submit: (_name: string, input: unknown) => { fired.push((input as { scheduledAt: number }).scheduledAt); return { settled: Promise.resolve(), final: true } }, registeredModule: () => '/tick.mjs' }
    const firer = new Firer({ self: 'A', store, tasks: tasks as never, members: () => [], log }, { now: () => now })
    return { store, firer, fired, set now (t: number) { now = t }, get now () { return now } }
  }

  it('reads the firer adverts once per step, not once per schedule (a step must stay cheap with thousands of schedules)', () => {
    const f = firerOver(50)
    let reads = 0
    const firers = f.store.firers.bind(f.store)
    f.store.firers = () => { reads++; return firers() }
    f.firer.step()
    expect(reads).toBe(1)
  })

  it('a graceful stop fires the ticks that fell due since its last step before handing the lease over (its successor starts after)', () => {
    const f = firerOver(1)
    for (let t = f.now; t <= 1_010_950; t += 100) { f.now = t; f.firer.step() }
    expect(f.fired).toContain(1_010_000)
    expect(f.fired).not.toContain(1_011_000)
    f.now = 1_011_020
    f.firer.stop()
    expect(f.fired).toContain(1_011_000)
    expect(f.store.lease('s0')!.until).toBe(1_011_020)
  })
})

it('a node whose clock runs so far ahead that its peers refuse its writes (ClockWatch) hands its lease over once they have aged its advert out (60 s), and claims none then', () => {
  let now = 1_000_000
  let aheadSince: number | undefined
  const channel = new ChannelReplica('schedules', { selfId: 'A', clock: new HlcClock({ now: () => now }), maxValueBytes: 64 * 1024, publish: () => {}, running: () => true, clockAheadForMs: () => aheadSince == null ? 0 : now - aheadSince })
  channel.synced()
  const store = new ScheduleStore(channel)
  store.advertise('A', { tasks: ['tick'] })
  store.put(makeSchedule({ id: 's', task: 'tick', everyMs: 1000, overlap: 'allow' }, 'alice', now))
  const firer = new Firer({ self: 'A', store, tasks: { submit: () => ({ settled: Promise.resolve(), final: true }), registeredModule: () => '/t.mjs' } as never, members: () => [], log }, { now: () => now })
  const run = (ms: number): void => { for (const end = now + ms; now < end;) { now += 100; firer.step() } }
  run(3000)
  expect(store.lease('s')?.holder).toBe('A')
  expect(store.lease('s')!.until).toBeGreaterThan(now)
  aheadSince = now
  run(ADVERT_STALE_MS - 1000)
  expect(store.lease('s')!.until).toBeGreaterThan(now)
  run(1200)
  expect(store.lease('s')!.until).toBeLessThanOrEqual(now)
  run(5000)
  expect(store.lease('s')!.until).toBeLessThanOrEqual(now)
})
