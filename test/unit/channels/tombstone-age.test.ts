import { describe, it, expect } from 'vitest'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { ChannelReplica } from '../../../src/channels/channel.ts'
import type { Entry } from '../../../src/channels/store.ts'

/**
 * A tombstone's age is how long this replica has held it, by its own monotonic clock: neither a
 * writer's clock (the stamp it put in the delete) nor a step of this node's wall clock may decide
 * when it is dropped, and so what comes back.
 */
const TTL_MS = 600_000

/** Time passing, the same for every replica; each reads it through its own (maybe skewed) wall clock. */
let elapsed = 0

let replicas = 0

/** `wall`: this replica's wall clock (its HLC's physical part); its monotonic clock is `elapsed` from an origin of its own (only durations cross the wire). */
function replica (selfId: string, wall: () => number, gossip: Entry[] = []): ChannelReplica {
  const origin = 1_000_000 * ++replicas
  return new ChannelReplica('c', { selfId, clock: new HlcClock({ now: wall }), maxValueBytes: 1024, publish: entries => { gossip.push(...entries) }, running: () => true, monotonicNow: () => origin + elapsed })
}

/** One snapshot exchange: `asker` merges `answerer`'s snapshot and sends back what it lacked. */
function exchange (asker: ChannelReplica, answerer: ChannelReplica): void {
  const answer = answerer.snapshot()
  asker.merge(answer)
  answerer.merge(asker.newerThan(answer))
}

describe('tombstone age', () => {
  it('a delete by a writer whose clock is 10 min behind is kept for the whole TTL, and the value a member that missed it holds does not come back', () => {
    elapsed = 0
    const behind = replica('peer-w', () => 50_000_000 + elapsed - 10 * 60_000)
    const a = replica('peer-a', () => 50_000_000 + elapsed)
    const paused = replica('peer-p', () => 50_000_000 + elapsed)
    behind.set('k', 'old')
    a.merge(behind.snapshot())
    paused.merge(behind.snapshot())
    elapsed += 1000
    behind.delete('k') // `paused` hears nothing of it
    a.merge(behind.snapshot())
    expect(a.has('k')).toBe(false)
    elapsed += 1000
    // two seconds after a learned of the delete: far from the TTL by a's clock
    const dropped = a.expire(TTL_MS)
    // the paused member comes back with its value: the tombstone must still beat it
    exchange(paused, a)
    expect(a.has('k'), 'resurrected on a').toBe(false)
    expect(paused.has('k')).toBe(false)
    expect(dropped).toBe(0)
    expect(a.digest()).toBe(paused.digest())
    // a TTL after a learned of it, it goes
    elapsed += TTL_MS
    expect(a.expire(TTL_MS)).toBe(1)
  })

  it('a delete by a writer whose clock is ahead (within the accepted drift) is not kept past the TTL', () => {
    elapsed = 0
    const ahead = replica('peer-w', () => 50_000_000 + elapsed + 50_000)
    const a = replica('peer-a', () => 50_000_000 + elapsed)
    ahead.set('k', 1)
    ahead.delete('k')
    a.merge(ahead.snapshot())
    elapsed += TTL_MS - 1000
    expect(a.expire(TTL_MS)).toBe(0)
    elapsed += 2000
    expect(a.expire(TTL_MS)).toBe(1)
  })

  it('replicas that learned of one tombstone at different times agree on the digest and have nothing to send', () => {
    elapsed = 0
    const writer = replica('peer-w', () => 50_000_000 + elapsed)
    const early = replica('peer-a', () => 50_000_000 + elapsed)
    const late = replica('peer-b', () => 50_000_000 + elapsed + 123_456) // its own clock differs too: nothing of it is compared
    writer.set('k', 1)
    writer.delete('k')
    early.merge(writer.snapshot())
    elapsed += 30_000
    late.merge(writer.snapshot())
    expect(early.digest()).toBe(late.digest())
    expect(early.digest()).toBe(writer.digest())
    expect(early.newerThan(late.snapshot())).toEqual([])
    expect(late.newerThan(early.snapshot())).toEqual([])
  })

  it('a tombstone one replica dropped and another still holds is taken back with its age: both drop it by the later one\'s TTL, and it does not bounce between them', () => {
    elapsed = 0
    const gossip: Entry[] = []
    const writer = replica('peer-w', () => 50_000_000 + elapsed, gossip)
    const a = replica('peer-a', () => 50_000_000 + elapsed)
    const b = replica('peer-b', () => 50_000_000 + elapsed)
    writer.set('k', 1)
    writer.delete('k')
    a.merge(gossip)
    elapsed += 5000
    b.merge(gossip) // the same gossip reaches b 5 s later (a pause, a slow link)
    elapsed += TTL_MS - 5000 + 1
    expect(a.expire(TTL_MS)).toBe(1)
    expect(b.expire(TTL_MS)).toBe(0)
    // anti-entropy between them while b still holds it: a takes it back, aged as b has held it
    exchange(a, b)
    expect(a.digest()).toBe(b.digest())
    elapsed += 5000
    expect(a.expire(TTL_MS)).toBe(1)
    expect(b.expire(TTL_MS)).toBe(1)
    exchange(a, b)
    exchange(b, a)
    expect(a.snapshot()).toEqual([])
    expect(b.snapshot()).toEqual([])
  })

  it('the age a snapshot carries is how long its sender has held the tombstone; a write without one (an older node) is held from now', () => {
    elapsed = 0
    const a = replica('peer-a', () => 50_000_000 + elapsed)
    const gone: Entry = { key: 'k', deleted: true, t: 50_000_000 - 3_600_000, c: 0, origin: 'peer-w' }
    a.merge([gone])
    elapsed += 7000
    expect(a.snapshot()).toEqual([{ ...gone, heldMs: 7000 }])
    const b = replica('peer-b', () => 50_000_000 + elapsed)
    b.merge(a.snapshot())
    expect(b.snapshot()).toEqual([{ ...gone, heldMs: 7000 }])
    elapsed += TTL_MS - 7000
    expect(a.expire(TTL_MS)).toBe(0)
    elapsed += 1
    expect(a.expire(TTL_MS)).toBe(1)
    expect(b.expire(TTL_MS)).toBe(1)
  })

  it('a step of this node\'s own wall clock (NTP catching up 10 min) does not age the tombstones it holds', () => {
    elapsed = 0
    let step = 0
    const a = replica('peer-a', () => 50_000_000 + elapsed + step)
    a.merge([{ key: 'k', deleted: true, t: 50_000_000, c: 0, origin: 'peer-w' }])
    elapsed += 1000
    step = 10 * 60_000
    expect(a.expire(TTL_MS)).toBe(0)
    expect(a.snapshot()[0]?.heldMs).toBe(1000)
  })

  it('a sender cannot make a delete drop sooner than its stamp says by overstating heldMs: a claim is bounded by the write\'s age (plus the drift allowed)', () => {
    elapsed = 0
    const writer = replica('peer-w', () => 50_000_000 + elapsed)
    const a = replica('peer-a', () => 50_000_000 + elapsed)
    writer.set('k', 1)
    writer.delete('k')
    const [tombstone] = writer.snapshot()
    a.merge([{ ...tombstone!, heldMs: 1e12 }])
    elapsed += 1000
    expect(a.expire(TTL_MS)).toBe(0)
    // held as if the write were as old as it is plus the 60 s drift allowed a writer ahead, at most
    expect(a.snapshot()[0]?.heldMs).toBe(61_000)
    elapsed += TTL_MS - 61_000 + 1
    expect(a.expire(TTL_MS)).toBe(1)
  })
})
