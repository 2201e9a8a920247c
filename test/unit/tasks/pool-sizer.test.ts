import { describe, it, expect, afterEach, vi } from 'vitest'
import { PoolSizer } from '../../../src/tasks/pool-sizer.ts'
import type { PoolSample } from '../../../src/tasks/pool-sizer.ts'
import type { UsefulLimit } from '../../../src/equalizer/useful-limit.ts'

/**
 * A pool of `workers` whose tasks all go through one bottleneck worth 30 tasks/s (2 cores at 20/s a
 * core, minus what the rest of the machine takes), fed 40 tasks/s with a standing queue; ticks driven by hand.
 */
function bottleneckedPool (): { sizer: PoolSizer, second: () => void, workers: () => number, held: UsefulLimit[], spawned: number[], drained: number[] } {
  let workers = 1
  const held: UsefulLimit[] = []
  const spawned: number[] = []
  const drained: number[] = []
  let busyMs = 0
  const sizer = new PoolSizer({ minWorkers: 1, maxWorkers: 16, sizeEveryMs: 1000, scaleDownAfterMs: 0 }, {
    sample: (): PoolSample => ({ workers, starting: 0, queued: 100, busyMs, capacityLimit: 100 }),
    spawn: count => { spawned.push(count); workers += count },
    drain: count => { drained.push(count); workers -= count },
    held: limit => { held.push(limit) }
  })
  const second = (): void => {
    const done = Math.min(20 * workers, 30)
    for (let i = 0; i < 40; i++) sizer.arrived()
    for (let i = 0; i < done; i++) sizer.completed()
    busyMs = 1000 * workers
    vi.advanceTimersByTime(1000)
    sizer.tick()
  }
  return { sizer, second, workers: () => workers, held, spawned, drained }
}

afterEach(() => { vi.useRealTimers() })

describe('PoolSizer: workers behind a shared bottleneck', () => {
  it('the pool is limited to the workers its capacity is worth, not grown to its maximum', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const pool = bottleneckedPool()
    // ticks come from the test (the sizer is not started): one per simulated second
    for (let s = 0; s < 20; s++) pool.second()
    expect(pool.held.length).toBeGreaterThanOrEqual(1)
    expect(pool.held[0]!.workers).toBeLessThanOrEqual(2)
    expect(Math.max(...pool.spawned)).toBeLessThan(16)
    expect(pool.workers()).toBeLessThanOrEqual(2)
  })
})

/**
 * Tasks longer than the sizing tick (4 s each: 0.25/s a worker) through a bottleneck worth 0.5 tasks/s in
 * all, fed more than that: at most ticks no task finishes, so most ticks carry no μ reading.
 */
function longTaskPool (bottleneck: number): { second: () => void, workers: () => number, held: UsefulLimit[] } {
  let workers = 1
  let busyMs = 0
  let finishing = 0
  const held: UsefulLimit[] = []
  const sizer = new PoolSizer({ minWorkers: 1, maxWorkers: 16, sizeEveryMs: 1000, scaleDownAfterMs: 0 }, {
    sample: (): PoolSample => ({ workers, starting: 0, queued: 100, busyMs, capacityLimit: 100 }),
    spawn: count => { workers += count },
    drain: count => { workers -= count },
    held: limit => { held.push(limit) }
  })
  const second = (): void => {
    finishing += Math.min(0.25 * workers, bottleneck)
    const done = Math.floor(finishing)
    finishing -= done
    sizer.arrived()
    for (let i = 0; i < done; i++) sizer.completed()
    busyMs = 1000 * workers
    vi.advanceTimersByTime(1000)
    sizer.tick()
  }
  return { second, workers: () => workers, held }
}

describe('PoolSizer: tasks longer than the sizing tick', () => {
  it('a tick where no task finished does not end the judgement: the pool behind a bottleneck is still limited', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const pool = longTaskPool(0.5)
    for (let s = 0; s < 30; s++) pool.second()
    expect(pool.held.length).toBeGreaterThanOrEqual(1)
    expect(pool.workers()).toBeLessThanOrEqual(2)
  })

  it('the same long tasks without a bottleneck are not limited', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const pool = longTaskPool(Number.POSITIVE_INFINITY)
    for (let s = 0; s < 30; s++) pool.second()
    expect(pool.held).toEqual([])
    expect(pool.workers()).toBe(16)
  })
})

describe('PoolSizer: a pool whose tasks stopped coming', () => {
  it('drains to minWorkers 0 once it has been idle for scaleDownAfterMs, not while λ decays towards 0', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    let workers = 0
    let busyMs = 0
    const drainedAt: number[] = []
    const sizer = new PoolSizer({ minWorkers: 0, maxWorkers: 8, sizeEveryMs: 500, scaleDownAfterMs: 2000 }, {
      sample: (): PoolSample => ({ workers, starting: 0, queued: 0, busyMs, capacityLimit: 100 }),
      spawn: count => { workers += count },
      drain: count => { workers -= count; drainedAt.push(performance.now()) }
    })
    // 4 s of 50 tasks/s, each 20 ms of one worker's time (1 worker is busy all the time)
    for (let t = 0; t < 8; t++) {
      for (let i = 0; i < 25; i++) { sizer.arrived(); sizer.completed() }
      busyMs = 500
      vi.advanceTimersByTime(500)
      sizer.tick()
    }
    expect(workers).toBeGreaterThan(0)
    // then nothing: no task arrives, none is queued or running
    busyMs = 0
    const idleSince = performance.now()
    for (let t = 0; t < 40 && workers > 0; t++) {
      vi.advanceTimersByTime(500)
      sizer.tick()
    }
    expect(workers).toBe(0)
    // scaleDownAfterMs of low pressure, plus a tick or two to see it (generous): not ~15 s more of λ decaying
    // (the last worker went ~17 s in: λ halving each tick kept a whole worker's need for ~30 ticks)
    expect(drainedAt.at(-1)! - idleSince).toBeLessThanOrEqual(2000 + 2 * 500)
  })
})
