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
