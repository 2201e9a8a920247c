import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { Reservations, RESERVATION_HOLD_MS } from '../../../src/owner/reservations.ts'

const ONE = { cpu: 1, memoryMb: 256 }
const NOTHING = { cpu: 0, memoryMb: 0, workers: 0 }

/** A promise the test settles by hand: a worker's `exited`. */
function exitSignal (): { exited: Promise<void>, exit: () => void, crash: () => void } {
  let exit: () => void = () => {}
  let crash: () => void = () => {}
  const exited = new Promise<void>((resolve, reject) => { exit = resolve; crash = () => { reject(new Error('stream lost')) } })
  return { exited, exit, crash }
}

describe('Reservations: spawns counted against their agent until gossip can count them', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('counts every spawn in flight per agent, and forgets an agent once nothing is reserved there', () => {
    const r = new Reservations()
    const first = r.reserve('A', ONE)
    const second = r.reserve('A', { cpu: 0.5, memoryMb: 0 })
    r.reserve('B', ONE)
    expect(r.of('A')).toEqual({ cpu: 1.5, memoryMb: 256, workers: 2 })
    first.release()
    second.release()
    expect(r.of('A')).toEqual(NOTHING)
    expect(r.of('B')).toEqual({ cpu: 1, memoryMb: 256, workers: 1 })
  })

  it('release is idempotent: a second release never frees another spawn\'s reservation', () => {
    const r = new Reservations()
    const failed = r.reserve('A', ONE)
    r.reserve('A', ONE)
    failed.release()
    failed.release()
    expect(r.of('A').workers).toBe(1)
  })

  it('a started worker stays counted until the hold time has passed (its gossiped load carries it by then)', async () => {
    const r = new Reservations({ holdMs: 500 })
    r.reserve('A', ONE).holdUntil(exitSignal().exited)
    await vi.advanceTimersByTimeAsync(499)
    expect(r.of('A').workers).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(r.of('A')).toEqual(NOTHING)
  })

  it('a worker that exits within the hold time is released at once, and only once', async () => {
    const r = new Reservations()
    const quick = exitSignal()
    r.reserve('A', ONE).holdUntil(quick.exited)
    r.reserve('A', ONE)
    quick.exit()
    await vi.advanceTimersByTimeAsync(0)
    expect(r.of('A').workers).toBe(1)
    // the hold timer was cleared: it does not release the other spawn later
    await vi.advanceTimersByTimeAsync(RESERVATION_HOLD_MS * 2)
    expect(r.of('A').workers).toBe(1)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an `exited` that rejects releases too', async () => {
    const r = new Reservations({ holdMs: 60_000 })
    const lost = exitSignal()
    r.reserve('A', ONE).holdUntil(lost.exited)
    lost.crash()
    await vi.advanceTimersByTimeAsync(0)
    expect(r.of('A')).toEqual(NOTHING)
  })
})
