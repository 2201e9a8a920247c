import pino from 'pino'
import type { Logger } from 'pino'
import { TaskPool } from '../../../src/tasks/pool.ts'
import type { PoolConfig } from '../../../src/tasks/pool.ts'
import type { WorkerHandle } from '../../../src/owner/worker-handle.ts'

/**
 * A pool whose workers `make` builds (each recorded in `workers`, in spawn order), with room for every worker
 * asked for; `pools` collects it for the test's afterEach to stop.
 */
export function poolOf<W extends WorkerHandle> (config: PoolConfig, make: () => W, pools: TaskPool[], log: Logger = pino({ level: 'silent' })): { pool: TaskPool, workers: W[] } {
  const workers: W[] = []
  const pool = new TaskPool(config, {
    spawn: async () => { const w = make(); workers.push(w); return w },
    capacity: (_r, limit) => limit,
    log
  })
  pools.push(pool)
  return { pool, workers }
}
