import { describe, it, expect } from 'vitest'
import { HlcClock } from '../../../src/channels/hlc.ts'
import { Channel } from '../../../src/channels/channel.ts'
import type { Entry } from '../../../src/channels/store.ts'

/**
 * A tombstone's age is how long this replica has held it, by its own clock: a writer's clock
 * (the stamp it put in the delete) must decide neither when it is dropped nor what comes back.
 */
const TTL_MS = 600_000

function replica (selfId: string, now: () => number, gossip: Entry[] = []): Channel {
  return new Channel('c', { selfId, clock: new HlcClock({ now }), maxValueBytes: 1024, publish: entries => { gossip.push(...entries) }, running: () => true })
}

/** One snapshot exchange: `asker` merges `answerer`'s snapshot and sends back what it lacked. */
function exchange (asker: Channel, answerer: Channel): void {
  const answer = answerer.snapshot()
  asker.merge(answer)
  answerer.merge(asker.newerThan(answer))
}

describe('tombstone age', () => {
  it('a delete by a writer whose clock is 10 min behind is kept for the whole TTL, and the value a member that missed it holds does not come back', () => {
    let wall = 50_000_000
    const behind = replica('peer-w', () => wall - 10 * 60_000)
    const a = replica('peer-a', () => wall)
    const paused = replica('peer-p', () => wall)
    behind.set('k', 'old')
    a.merge(behind.snapshot())
    paused.merge(behind.snapshot())
    wall += 1000
    behind.delete('k') // `paused` hears nothing of it
    a.merge(behind.snapshot())
    expect(a.has('k')).toBe(false)
    wall += 1000
    // two seconds after a learned of the delete: far from the TTL by a's clock
    const dropped = a.expire(wall, TTL_MS)
    // the paused member comes back with its value: the tombstone must still beat it
    exchange(paused, a)
    expect(a.has('k'), 'resurrected on a').toBe(false)
    expect(paused.has('k')).toBe(false)
    expect(dropped).toBe(0)
    expect(a.digest()).toBe(paused.digest())
    // a TTL after a learned of it, it goes
    wall += TTL_MS
    expect(a.expire(wall, TTL_MS)).toBe(1)
  })

  it('a delete by a writer whose clock is ahead (within the accepted drift) is not kept past the TTL', () => {
    let wall = 50_000_000
    const ahead = replica('peer-w', () => wall + 50_000)
    const a = replica('peer-a', () => wall)
    ahead.set('k', 1)
    ahead.delete('k')
    a.merge(ahead.snapshot())
    wall += TTL_MS - 1000
    expect(a.expire(wall, TTL_MS)).toBe(0)
    wall += 2000
    expect(a.expire(wall, TTL_MS)).toBe(1)
  })

  it('replicas that learned of one tombstone at different times agree on the digest and have nothing to send', () => {
    let wall = 50_000_000
    const writer = replica('peer-w', () => wall)
    const early = replica('peer-a', () => wall)
    const late = replica('peer-b', () => wall + 123_456) // its own clock differs too: nothing of it is compared
    writer.set('k', 1)
    writer.delete('k')
    early.merge(writer.snapshot())
    wall += 30_000
    late.merge(writer.snapshot())
    expect(early.digest()).toBe(late.digest())
    expect(early.digest()).toBe(writer.digest())
    expect(early.newerThan(late.snapshot())).toEqual([])
    expect(late.newerThan(early.snapshot())).toEqual([])
  })

  it('a tombstone one replica dropped and another still holds is taken back with its age: both drop it by the later one\'s TTL, and it does not bounce between them', () => {
    let wall = 50_000_000
    const gossip: Entry[] = []
    const writer = replica('peer-w', () => wall, gossip)
    const a = replica('peer-a', () => wall)
    const b = replica('peer-b', () => wall)
    writer.set('k', 1)
    writer.delete('k')
    a.merge(gossip)
    wall += 5000
    b.merge(gossip) // the same gossip reaches b 5 s later (a pause, a slow link)
    wall += TTL_MS - 5000 + 1
    expect(a.expire(wall, TTL_MS)).toBe(1)
    expect(b.expire(wall, TTL_MS)).toBe(0)
    // anti-entropy between them while b still holds it: a takes it back, aged as b has held it
    exchange(a, b)
    expect(a.digest()).toBe(b.digest())
    wall += 5000
    expect(a.expire(wall, TTL_MS)).toBe(1)
    expect(b.expire(wall, TTL_MS)).toBe(1)
    exchange(a, b)
    exchange(b, a)
    expect(a.snapshot()).toEqual([])
    expect(b.snapshot()).toEqual([])
  })

  it('the age a snapshot carries is how long its sender has held the tombstone; a write without one (an older node) is held from now', () => {
    let wall = 50_000_000
    const a = replica('peer-a', () => wall)
    const gone: Entry = { key: 'k', deleted: true, t: wall - 3_600_000, c: 0, origin: 'peer-w' }
    a.merge([gone])
    wall += 7000
    expect(a.snapshot()).toEqual([{ ...gone, heldMs: 7000 }])
    expect(a.expire(wall + TTL_MS - 7000, TTL_MS)).toBe(0)
    expect(a.expire(wall + TTL_MS - 6999, TTL_MS)).toBe(1)
  })
})
