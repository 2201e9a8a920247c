import { describe, it, expect } from 'vitest'
import * as v from 'valibot'
import { entrySchema } from '../../../src/channels/schema.ts'
import { HlcClock, compareStamps } from '../../../src/channels/hlc.ts'
import { LwwStore } from '../../../src/channels/store.ts'
import type { Entry } from '../../../src/channels/store.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import type { ChannelChange } from '../../../src/channels/channel.ts'
import { ConfigError, ValueTooLargeError } from '../../../src/errors.ts'

describe('hybrid logical clock', () => {
  it('follows wall time and never goes back, even when the wall clock does', () => {
    let wall = 1000
    const clock = new HlcClock({ now: () => wall })
    expect(clock.tick()).toEqual({ t: 1000, c: 0 })
    expect(clock.tick()).toEqual({ t: 1000, c: 1 })
    wall = 900 // the wall clock stepped back
    expect(clock.tick()).toEqual({ t: 1000, c: 2 })
    wall = 2000
    expect(clock.tick()).toEqual({ t: 2000, c: 0 })
  })

  it('orders a local event after every remote stamp it received', () => {
    const clock = new HlcClock({ now: () => 1000 })
    expect(clock.receive({ t: 5000, c: 7 })).toBe(true)
    const next = clock.tick()
    expect(compareStamps({ ...next, origin: 'a' }, { t: 5000, c: 7, origin: 'z' })).toBeGreaterThan(0)
  })

  it('refuses a stamp too far in the future, leaving its own clock alone', () => {
    const clock = new HlcClock({ now: () => 1000, maxDriftMs: 60_000 })
    expect(clock.receive({ t: 1000 + 3_600_000, c: 0 })).toBe(false)
    expect(clock.tick()).toEqual({ t: 1000, c: 0 })
  })

  it('ties break on the writer id', () => {
    expect(compareStamps({ t: 1, c: 0, origin: 'a' }, { t: 1, c: 0, origin: 'b' })).toBeLessThan(0)
    expect(compareStamps({ t: 1, c: 1, origin: 'a' }, { t: 1, c: 0, origin: 'b' })).toBeGreaterThan(0)
  })
})

const write = (key: string, t: number, origin: string, value?: unknown): Entry => ({ key, t, c: 0, origin, value, deleted: value === undefined })

describe('last-writer-wins store', () => {
  it('converges to the same map whatever order writes arrive in', () => {
    const writes = [write('k', 1, 'a', 'A1'), write('k', 2, 'b', 'B2'), write('k', 2, 'c', 'C2'), write('j', 1, 'a', 1), write('j', 3, 'b')]
    const orders = [writes, [...writes].reverse(), [writes[2]!, writes[0]!, writes[4]!, writes[1]!, writes[3]!]]
    const results = orders.map(order => { const s = new LwwStore(); for (const w of order) s.apply(w, 0); return JSON.stringify(s.all().sort((x, y) => x.key.localeCompare(y.key))) })
    expect(new Set(results).size).toBe(1)
    const store = new LwwStore()
    for (const w of writes) store.apply(w, 0)
    expect(store.get('k')).toBe('C2') // same time: the larger writer id wins
    expect(store.get('j')).toBeUndefined()
    expect(store.size).toBe(1)
  })

  it('a tombstone beats an older write arriving late, and expires after the TTL', () => {
    const store = new LwwStore()
    store.apply(write('k', 10, 'a'), 10) // delete at t=10
    expect(store.apply(write('k', 5, 'b', 'stale'), 20)).toBeNull()
    expect(store.get('k')).toBeUndefined()
    expect(store.expire(10 + 1000, 5000)).toBe(0)
    expect(store.expire(10 + 6000, 5000)).toBe(1)
    expect(store.all()).toEqual([])
  })
})

describe('channel', () => {
  const make = (maxValueBytes = 64) => {
    const published: Entry[][] = []
    const channel = new ChannelReplica('c', { selfId: 'me', clock: new HlcClock(), maxValueBytes, publish: e => { published.push(e) }, running: () => true })
    return { channel, published }
  }

  it('a listener that throws is logged: a local write is still published and set returns, a merged batch is applied whole, change follows set', () => {
    const published: Entry[][] = []
    const logged: unknown[] = []
    const channel = new ChannelReplica('c', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 64, publish: e => { published.push(e) }, running: () => true, log: { error: (obj: unknown) => { logged.push(obj) } } as never })
    const changes: string[] = []
    channel.on('set', () => { throw new Error('app listener threw') })
    channel.on('change', c => { changes.push(c.key) })
    expect(() => { channel.set('k', 1) }).not.toThrow()
    expect(published).toHaveLength(1)
    expect(channel.merge([write('a', Date.now(), 'x', 1), write('b', Date.now(), 'x', 2)]).changed).toBe(2)
    expect([channel.get('a'), channel.get('b')]).toEqual([1, 2])
    expect(changes).toEqual(['k', 'a', 'b'])
    expect(logged).toHaveLength(3)
  })

  it('set/delete publish, fire set/delete/change once per visible change', () => {
    const { channel, published } = make()
    const changes: ChannelChange[] = []
    channel.on('change', c => { changes.push(c) })
    channel.set('k', { a: 1 })
    channel.set('k', { a: 1 }) // same value: published (newer stamp) but not a visible change
    channel.delete('k')
    channel.delete('k')
    expect(published).toHaveLength(4)
    expect(changes.map(c => [c.key, c.deleted, c.origin])).toEqual([['k', false, 'me'], ['k', true, 'me']])
  })

  it('refuses oversized values with ValueTooLargeError, and non-JSON values and bad keys with ConfigError', () => {
    const { channel } = make(64)
    expect(() => { channel.set('k', 'x'.repeat(100)) }).toThrow(ValueTooLargeError)
    expect(() => { channel.set('k', 'x'.repeat(100)) }).toThrow(expect.objectContaining({ code: 'ERR_VALUE_TOO_LARGE' }))
    expect(() => { channel.set('k', 10n) }).toThrow(ConfigError)
    expect(() => { channel.set('k', undefined) }).toThrow(ConfigError)
    expect(() => { channel.set('', 1) }).toThrow(ConfigError)
    expect(channel.size).toBe(0)
  })

  it('merging drops relayed values over the limit', () => {
    const { channel } = make(16)
    expect(channel.merge([write('big', Date.now(), 'x', 'y'.repeat(100)), write('ok', Date.now(), 'x', 1)])).toEqual({ changed: 1, tooLarge: 1, drift: 0, forged: 0, full: 0 })
    expect(channel.entries()).toEqual([['ok', 1]])
  })
})

describe('digest and delta (what a snapshot exchange relies on)', () => {
  const replica = (selfId: string, now: () => number = Date.now) => new ChannelReplica('c', { selfId, clock: new HlcClock({ now }), maxValueBytes: 1024, publish: () => {}, running: () => true })

  it('the digest depends on the writes held, not on the order they arrived in, and counts tombstones', () => {
    const writes = [write('a', 1, 'x', 1), write('b', 2, 'y', 2), write('a', 3, 'y'), write('c', 4, 'x', { deep: [1] })]
    const one = new LwwStore()
    const two = new LwwStore()
    for (const w of writes) one.apply(w, 0)
    for (const w of [...writes].reverse()) two.apply(w, 0)
    expect(one.digest()).toBe(two.digest())
    const three = new LwwStore()
    for (const w of writes.slice(0, 3)) three.apply(w, 0)
    expect(three.digest()).not.toBe(one.digest())
    // the same visible map with and without a tombstone is not the same history
    const live = new LwwStore()
    live.apply(write('b', 2, 'y', 2), 0)
    const withTombstone = new LwwStore()
    withTombstone.apply(write('b', 2, 'y', 2), 0)
    withTombstone.apply(write('a', 3, 'y'), 0)
    expect(live.entries()).toEqual(withTombstone.entries())
    expect(live.digest()).not.toBe(withTombstone.digest())
    // expiring the tombstone brings the digests together again
    withTombstone.expire(10_000, 1000)
    expect(withTombstone.digest()).toBe(live.digest())
  })

  it('snapshot one way plus delta back leaves two diverged replicas equal, the newer write winning per key', () => {
    let wall = 1_000_000
    const a = replica('peer-a', () => wall)
    const b = replica('peer-b', () => wall)
    a.set('only-a', 1)
    b.set('only-b', 2)
    a.set('both', 'a-old')
    wall += 10
    b.set('both', 'b-new')
    b.set('gone', true)
    a.merge(b.snapshot())
    wall += 10
    a.delete('gone') // deleted on a after it saw b's write
    expect(a.digest()).not.toBe(b.digest())
    // the exchange: b asks, a answers with its snapshot, b sends back what a lacked
    const answer = a.snapshot()
    b.merge(answer)
    a.merge(b.newerThan(answer))
    expect(a.digest()).toBe(b.digest())
    expect(Object.fromEntries(a.entries())).toEqual({ 'only-a': 1, 'only-b': 2, both: 'b-new' })
    expect(Object.fromEntries(b.entries())).toEqual(Object.fromEntries(a.entries()))
    // in sync: nothing left to send either way
    expect(a.newerThan(b.snapshot())).toEqual([])
    expect(b.newerThan(a.snapshot())).toEqual([])
  })

  it('a tombstone wins over the paused replica\'s older value in both directions of the exchange', () => {
    let wall = 5000
    const a = replica('peer-a', () => wall)
    const paused = replica('peer-p', () => wall)
    a.set('k', 'v')
    paused.merge(a.snapshot())
    wall += 100
    a.delete('k') // while `paused` hears nothing
    // the paused replica answers first: its older value must not come back on a
    a.merge(paused.snapshot())
    expect(a.has('k')).toBe(false)
    paused.merge(a.newerThan(paused.snapshot()))
    expect(paused.has('k')).toBe(false)
    expect(paused.digest()).toBe(a.digest())
  })

  it('merge refuses stamps too far ahead of the local clock and counts them', () => {
    const c = replica('me', () => 1000)
    expect(c.merge([write('k', 1000 + 3_600_000, 'x', 'future')])).toEqual({ changed: 0, tooLarge: 0, drift: 1, forged: 0, full: 0 })
    expect(c.has('k')).toBe(false)
  })

  it('values are frozen copies: the caller\'s object is not shared, and mutating a read one throws', () => {
    const c = replica('me')
    const mine = { list: [1, 2], nested: { a: 1 } }
    c.set('k', mine)
    mine.list.push(3)
    const read = c.get('k') as typeof mine
    expect(read).toEqual({ list: [1, 2], nested: { a: 1 } })
    expect(() => { read.nested.a = 2 }).toThrow(TypeError)
    expect(() => { read.list.push(4) }).toThrow(TypeError)
  })

  it('delete says whether the key was there; writes after the node stopped are refused', () => {
    let running = true
    const c = new ChannelReplica('c', { selfId: 'me', clock: new HlcClock(), maxValueBytes: 1024, publish: () => {}, running: () => running })
    c.set('k', 1)
    expect(c.delete('k')).toBe(true)
    expect(c.delete('k')).toBe(false)
    running = false
    expect(() => { c.set('k', 1) }).toThrow(expect.objectContaining({ code: 'ERR_NODE_STOPPED' }))
  })
})

describe('wire schema', () => {
  it('refuses a write that is neither a value nor a delete', () => {
    const base = { key: 'k', t: 1, c: 0, sig: 'AA==', origin: '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq' } // a real peer id: the schema parses origins
    expect(v.safeParse(entrySchema, { ...base, deleted: false }).success).toBe(false)
    expect(v.safeParse(entrySchema, { ...base, deleted: false, value: null }).success).toBe(true)
    expect(v.safeParse(entrySchema, { ...base, deleted: true }).success).toBe(true)
    expect(v.safeParse(entrySchema, { ...base, deleted: true, key: '' }).success).toBe(false)
  })
})
