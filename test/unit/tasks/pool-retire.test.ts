import { it, expect, vi, afterEach } from 'vitest'
import { fileURLToPath } from 'node:url'
import { Tasks } from '../../../src/tasks/tasks.ts'
import { FakeWorker, silent } from '../pipeline/fake-worker.ts'

const SQUARE = fileURLToPath(new URL('../../fixtures/tasks/square.mjs', import.meta.url))

afterEach(() => { vi.useRealTimers() })

it('a task pool idle for a minute (no worker, nothing queued) is retired; the next task of its module gets a new one', async () => {
  // timers and the clock are fake; the pool's file checks are real I/O
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] })
  const workers: FakeWorker[] = []
  const tasks = new Tasks('owner', {
    // 10 ms a task: a measured rate, which scaling down needs
    spawn: async () => { const w = new FakeWorker('task:square.mjs', async n => await new Promise(resolve => setTimeout(() => { resolve((n as number) ** 2) }, 10))); workers.push(w); return w },
    capacity: (_r, limit) => limit,
    log: silent
  }, { sizeEveryMs: 500, scaleDownAfterMs: 1000, durable: false })
  await tasks.start()
  try {
    const result = async (n: number): Promise<unknown> => {
      const task = tasks.submit(SQUARE, n)
      const answer = task.result()
      // the pool's file check is real I/O: let it run, the fake clock still, until the task is on its worker
      for (let i = 0; i < 1_000_000 && task.status === 'queued'; i++) await new Promise(resolve => setImmediate(resolve))
      expect(task.status).not.toBe('queued')
      await vi.advanceTimersByTimeAsync(20)
      return await answer
    }
    expect(await result(3)).toBe(9)
    const pools = (): number => (tasks as unknown as { readyPools: Map<string, unknown> }).readyPools.size
    expect(pools()).toBe(1)
    // its worker drains once the arrival rate has decayed and scaleDownAfterMs passed; the pool stays a while
    await vi.advanceTimersByTimeAsync(30_000)
    expect(workers[0]!.killed).toBeDefined()
    expect(pools()).toBe(1)
    await vi.advanceTimersByTimeAsync(90_000)
    expect(pools()).toBe(0)
    expect(await result(4)).toBe(16)
    expect([pools(), workers.length]).toEqual([1, 2])
  } finally {
    await tasks.stop()
  }
})
