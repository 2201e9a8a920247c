import { describe, it, expect } from 'vitest'
import { LeaseKeeper } from '../../../src/leases/lease.ts'
import type { LeaseTimings } from '../../../src/leases/lease.ts'
import type { FiredRecord, Lease } from '../../../src/leases/types.ts'

const T: LeaseTimings = { leaseMs: 1500, renewMs: 400, graceMs: 800, settleMs: 400, pauseMs: 600, quietAfterPauseMs: 3000 }

/** Steps a keeper every 100 ms on a fake clock, writing what it writes into a shared lease slot. */
function run (keeper: LeaseKeeper, slot: { lease?: Lease, fired?: FiredRecord }, from: number, to: number, elected: boolean): number | undefined {
  let heldAt: number | undefined
  for (let now = from; now <= to; now += 100) {
    const step = keeper.step(now, elected, slot.lease, slot.fired)
    if (step.write != null) slot.lease = step.write
    if (step.holding != null && heldAt == null) heldAt = now
  }
  return heldAt
}

describe('LeaseKeeper (fake clock)', () => {
  it('claims a free lease, holds it after the settle time, and renews it', () => {
    const slot: { lease?: Lease } = {}
    const a = new LeaseKeeper('A', T)
    expect(a.step(0, true, undefined, undefined).write).toMatchObject({ holder: 'A', token: 1, from: 0, until: 1500 })
    slot.lease = { holder: 'A', token: 1, from: 0, until: 1500 }
    expect(a.step(100, true, slot.lease, undefined)).toEqual({})
    const held = a.step(400, true, slot.lease, undefined)
    expect(held.holding).toMatchObject({ holder: 'A', token: 1, until: 1900 })
    expect(a.phase).toBe('holding')
    slot.lease = held.write
    expect(a.step(500, true, slot.lease, undefined).write).toBeUndefined()
    expect(a.step(800, true, slot.lease, undefined).write).toMatchObject({ until: 2300 })
  })

  it('does not claim while another holds an unexpired lease, nor within the grace after it', () => {
    const b = new LeaseKeeper('B', T)
    const lease: Lease = { holder: 'A', token: 3, from: 0, until: 5000 }
    for (let now = 0; now <= 5800; now += 100) expect(b.step(now, true, lease, undefined).write).toBeUndefined()
    const claim = b.step(5900, true, lease, undefined).write
    // its ticks start where A's lease ended, under the next token
    expect(claim).toMatchObject({ holder: 'B', token: 4, from: 5000 })
  })

  it('takes a token above the highest fired record too (a fencing token never goes back)', () => {
    const b = new LeaseKeeper('B', T)
    expect(b.step(10_000, true, { holder: 'A', token: 2, from: 0, until: 100 }, { tick: 8000, token: 7, holder: 'C' }).write).toMatchObject({ token: 8, from: 8000 })
  })

  it('a claim that lost to a concurrent one (last writer wins) is dropped before it fires anything', () => {
    const a = new LeaseKeeper('A', T)
    a.step(0, true, undefined, undefined)
    const winner: Lease = { holder: 'B', token: 1, from: 0, until: 1500 }
    expect(a.step(400, true, winner, undefined)).toMatchObject({ change: 'lost the claim to another' })
    expect(a.phase).toBe('idle')
  })

  it('a holder that is no longer elected releases at once, ending its lease now', () => {
    const slot: { lease?: Lease } = {}
    const a = new LeaseKeeper('A', T)
    run(a, slot, 0, 1000, true)
    const step = a.step(1100, false, slot.lease, undefined)
    expect(step.write).toMatchObject({ holder: 'A', until: 1100 })
    expect(step.holding).toBeUndefined()
    // what fell due in it up to now is still A's to fire: the successor starts after 1100
    expect(step.releasing).toEqual(step.write)
    // and writes the release again a few times (a successor back from a pause may have missed it), never anything else
    const rewrites: unknown[] = []
    for (let now = 1200; now <= 6000; now += 100) { const w = a.step(now, false, step.write, undefined).write; if (w != null) rewrites.push(w) }
    expect(rewrites.length).toBeGreaterThanOrEqual(5)
    expect(rewrites.length).toBeLessThanOrEqual(10)
    for (const w of rewrites) expect(w).toEqual(step.write)
    // not over a successor's lease
    const again = new LeaseKeeper('A', T)
    const slot2: { lease?: Lease } = {}
    run(again, slot2, 0, 1000, true)
    again.step(1100, false, slot2.lease, undefined)
    expect(again.step(1600, false, { holder: 'B', token: 2, from: 1100, until: 9000 }, undefined).write).toBeUndefined()
  })

  it('a holder paused past its lease wakes without firing, stays quiet, and then sees the successor (no tick twice)', () => {
    const slot: { lease?: Lease, fired?: FiredRecord } = {}
    const a = new LeaseKeeper('A', T)
    const b = new LeaseKeeper('B', T)
    run(a, slot, 0, 2000, true)
    const aLease = slot.lease!
    // A is paused at 2000 (SIGSTOP): B becomes elected, waits out A's lease and the grace, and holds
    const bHeld = run(b, slot, 2100, 7000, true)!
    expect(bHeld).toBeGreaterThan(aLease.until + T.graceMs)
    expect(slot.lease).toMatchObject({ holder: 'B', token: 2, from: aLease.until })
    // A wakes at 7000 still believing its own old lease (the grid's news not read yet): it fires nothing
    const woke = a.step(7000, true, aLease, undefined)
    expect(woke.holding).toBeUndefined()
    expect(woke.write).toBeUndefined()
    expect(woke.change).toMatch(/paused for 5000 ms/)
    // and claims nothing during its quiet time, even if elected and still blind
    for (let now = 7100; now < 10_000; now += 100) expect(a.step(now, true, aLease, undefined).write).toBeUndefined()
    // B, still elected in its own view, renews meanwhile; once A reads B's lease, it keeps A out
    run(b, slot, 7100, 9900, true)
    expect(slot.lease).toMatchObject({ holder: 'B' })
    expect(a.step(10_000, true, slot.lease, undefined).write).toBeUndefined()
  })

  it('a holder paused inside the lease it had published keeps it and renews at once (a stalled event loop)', () => {
    const slot: { lease?: Lease } = {}
    const a = new LeaseKeeper('A', T)
    // renewed at 800 (until 2300), published while it ran on to 1000; then 700 ms without a step
    run(a, slot, 0, 1000, true)
    expect(slot.lease).toMatchObject({ until: 2300 })
    const woke = a.step(1700, true, slot.lease, undefined)
    expect(woke).toMatchObject({ change: expect.stringMatching(/paused for 700 ms, inside the lease it had published: kept/), write: { holder: 'A', until: 3200 }, holding: { until: 3200 } })
    expect(a.phase).toBe('holding')
  })

  it('a holder paused past the lease it had published drops it: its last renewal may not have reached anyone', () => {
    const slot: { lease?: Lease } = {}
    const a = new LeaseKeeper('A', T)
    // renewed at 800 (until 2300) and at 1200 (until 2700) in the last step before the pause: only 2300 is surely out
    run(a, slot, 0, 1200, true)
    expect(slot.lease).toMatchObject({ until: 2700 })
    expect(a.step(2400, true, slot.lease, undefined)).toMatchObject({ change: expect.stringMatching(/paused for 1200 ms: lease dropped/) })
    expect(a.phase).toBe('idle')
  })

  it('a holder back from a pause that takes its own lease again keeps the ticks of it it did not fire', () => {
    const slot: { lease?: Lease } = {}
    const a = new LeaseKeeper('A', T)
    run(a, slot, 0, 1000, true)
    const own = slot.lease!
    // paused past the lease it had published (2300): dropped
    a.step(2400, true, own, { tick: 1000, token: own.token, holder: 'A' })
    let claim: Lease | undefined
    for (let now = 1800; now < 6000 && claim == null; now += 100) claim = a.step(now, true, slot.lease, { tick: 1000, token: own.token, holder: 'A' }).write
    expect(claim).toMatchObject({ holder: 'A', token: own.token + 1, from: 1000 })
  })

  it('a holder seeing a fired record with a higher token steps down (fenced)', () => {
    const slot: { lease?: Lease } = {}
    const a = new LeaseKeeper('A', T)
    run(a, slot, 0, 1000, true)
    expect(a.step(1100, true, slot.lease, { tick: 1000, token: 9, holder: 'B' })).toMatchObject({ change: 'fenced by a higher token' })
  })

  it('each new holder’s ticks start after the last until its predecessor wrote (intervals never overlap)', () => {
    const slot: { lease?: Lease } = {}
    const keepers = { A: new LeaseKeeper('A', T), B: new LeaseKeeper('B', T) }
    const lastUntil = new Map<string, number>()
    let handovers = 0
    let elected: 'A' | 'B' = 'A'
    for (let now = 0; now < 30_000; now += 100) {
      if (now % 5000 === 0) elected = elected === 'A' ? 'B' : 'A'
      for (const [name, keeper] of Object.entries(keepers)) {
        const step = keeper.step(now, name === elected, slot.lease, undefined)
        if (step.write == null) continue
        if (step.write.holder !== slot.lease?.holder && slot.lease != null) {
          handovers++
          expect(step.write.from).toBeGreaterThanOrEqual(lastUntil.get(slot.lease.holder)!)
          expect(step.write.token).toBe(slot.lease.token + 1)
        }
        lastUntil.set(name, step.write.until)
        slot.lease = step.write
      }
    }
    expect(handovers).toBeGreaterThanOrEqual(5)
  })
})
