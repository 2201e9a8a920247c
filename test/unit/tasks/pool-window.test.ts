import { describe, it, expect, afterEach } from 'vitest'
import pino from 'pino'
import { TaskPool } from '../../../src/tasks/pool.ts'
import type { PoolConfig } from '../../../src/tasks/pool.ts'
import { Task } from '../../../src/tasks/task.ts'
import { StandInWorker } from '../../fixtures/tasks/stand-in-worker.ts'

/** A worker that answers everything it holds `delayMs` after it got it, and records how many it held at once. */
class TimedWorker extends StandInWorker {
  held = 0
  mostHeld = 0
  private readonly delayMs: number
  constructor (delayMs: number) { super('task:m.ts'); this.delayMs = delayMs }
  async process (item: unknown): Promise<unknown> {
    this.mostHeld = Math.max(this.mostHeld, ++this.held)
    await new Promise(resolve => setTimeout(resolve, this.delayMs))
    this.held--
    return item
  }
}

const CONFIG: PoolConfig = { module: '/m.ts', stage: 'task:m.ts', resources: { cpu: 1, memoryMb: 0 }, window: 2, cancelGraceMs: 50, minWorkers: 1, maxWorkers: 1, sizeEveryMs: 25, scaleDownAfterMs: 60_000 }
let n = 0
const task = (): Task => new Task({ id: `t${n++}`, session: 's', module: '/m.ts', input: n, priority: 0, maxRetries: 0 })

let pools: TaskPool[] = []
afterEach(async () => { await Promise.all(pools.map(async p => { await p.stop() })); pools = [] })

/** Keeps `inQueue` tasks waiting for `ms`, each refilled as one ends; resolves with the pool and its worker. */
async function feed (delayMs: number, ms: number, inQueue = 400): Promise<{ pool: TaskPool, worker: TimedWorker }> {
  const worker = new TimedWorker(delayMs)
  const pool = new TaskPool(CONFIG, { spawn: async () => worker, capacity: (_r, limit) => limit, log: pino({ level: 'silent' }) })
  pools.push(pool)
  pool.start()
  const until = Date.now() + ms
  const add = (): void => {
    if (Date.now() > until) return
    const t = task()
    void t.settled.then(add)
    pool.enqueue(t)
  }
  for (let i = 0; i < inQueue; i++) add()
  while (Date.now() < until) await new Promise(resolve => setTimeout(resolve, 10))
  return { pool, worker }
}

describe('TaskPool window', () => {
  it('grows past `window` for cheap tasks (about 10 ms of a worker\'s work), so they travel in batches', async () => {
    // ~1 ms each, many at once on the worker: a measured rate far above 2 per 10 ms
    const { pool, worker } = await feed(1, 400)
    expect(pool.currentWindow).toBeGreaterThan(CONFIG.window)
    expect(worker.mostHeld).toBeGreaterThan(CONFIG.window)
    expect(pool.currentWindow).toBeLessThanOrEqual(1024)
  })

  it('stays at `window` for tasks that each cost more than 10 ms: they wait at the owner, where priorities apply', async () => {
    const { pool, worker } = await feed(30, 400, 20)
    expect(pool.currentWindow).toBe(CONFIG.window)
    expect(worker.mostHeld).toBe(CONFIG.window)
  })
})
