import { describe, it, expect } from 'vitest'
import { HlcClock, compareStamps } from '../../../src/channels/hlc.ts'
import { LwwStore } from '../../../src/channels/store.ts'
import type { Entry } from '../../../src/channels/store.ts'
import { Channel } from '../../../src/channels/channel.ts'
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
    const results = orders.map(order => { const s = new LwwStore(); for (const w of order) s.apply(w); return JSON.stringify(s.all().sort((x, y) => x.key.localeCompare(y.key))) })
    expect(new Set(results).size).toBe(1)
    const store = new LwwStore()
    for (const w of writes) store.apply(w)
    expect(store.get('k')).toBe('C2') // same time: the larger writer id wins
    expect(store.get('j')).toBeUndefined()
    expect(store.size).toBe(1)
  })

  it('a tombstone beats an older write arriving late, and expires after the TTL', () => {
    const store = new LwwStore()
    store.apply(write('k', 10, 'a')) // delete at t=10
    expect(store.apply(write('k', 5, 'b', 'stale'))).toBeNull()
    expect(store.get('k')).toBeUndefined()
    expect(store.expire(10 + 1000, 5000)).toBe(0)
    expect(store.expire(10 + 6000, 5000)).toBe(1)
    expect(store.all()).toEqual([])
  })
})

describe('channel', () => {
  const make = (maxValueBytes = 64) => {
    const published: Entry[][] = []
    const channel = new Channel('c', { selfId: 'me', clock: new HlcClock(), maxValueBytes, publish: e => { published.push(e) } })
    return { channel, published }
  }

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
    expect(channel.merge([write('big', Date.now(), 'x', 'y'.repeat(100)), write('ok', Date.now(), 'x', 1)])).toBe(1)
    expect(channel.entries()).toEqual([['ok', 1]])
  })
})
