/**
 * The three systems of `npm run bench:peers`, each behind the same shape:
 * `prepare(workers)` outside the clock (then the caller warms it up with the
 * same work), `run(items)` resolves when every result is back at the
 * submitter, then `release()`. All run the same stage
 * module file on the same items.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Queue, QueueEvents } from 'bullmq'
import { Piscina } from 'piscina'
import { GridNode } from '../../src/node.ts'
import type { GridNodeInit } from '../../src/config.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { startNode } from '../integration/helpers/grid-process.ts'
import { onPath } from '../../scripts/ensure-test-deps.ts'
import { note, round, sleep } from './lib.ts'
import type { Defer } from './report.ts'
import { startRedis } from '../integration/helpers/redis-server.ts'

export interface System {
  name: string
  /** Outside the clock: start the workers this run will use. */
  prepare: (module: string, workers: number, concurrency: number) => Promise<void>
  /** Every item in, every result back at the submitter; resolves to the number of results. */
  run: (items: unknown[]) => Promise<number>
  /** Stops what prepare started. */
  release: () => Promise<void>
}

const BULLMQ_WORKER = fileURLToPath(new URL('./peers-bullmq-worker.ts', import.meta.url))
/** A run that has not finished by then is a broken benchmark, not a slow system. */
const RUN_TIMEOUT_MS = 300_000

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

async function lineFrom (child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  let seen = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${what} did not start: ${seen.slice(-500)}`)) }, 20_000)
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString()
      if (pattern.test(seen)) { clearTimeout(timer); resolve() }
    })
    child.once('exit', code => { clearTimeout(timer); reject(new Error(`${what} exited (${code}): ${seen.slice(-500)}`)) })
  })
}

/** Resolves when `count()` reaches a target; one waiter at a time (runs do not overlap). */
function completions (): { add: (n: number) => void, until: (target: number, what: string) => Promise<void>, fail: (err: Error) => void, count: () => number } {
  let done = 0
  let waiter: { target: number, resolve: () => void, reject: (err: Error) => void } | undefined
  return {
    add (n) {
      done += n
      if (waiter != null && done >= waiter.target) { waiter.resolve(); waiter = undefined }
    },
    async until (target, what) {
      if (done >= target) return
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`${what}: ${done}/${target} results after ${RUN_TIMEOUT_MS} ms`)) }, RUN_TIMEOUT_MS)
        waiter = { target, resolve: () => { clearTimeout(timer); resolve() }, reject: err => { clearTimeout(timer); reject(err) } }
      })
    },
    fail (err) { waiter?.reject(err); waiter = undefined },
    count: () => done
  }
}

/**
 * gridd: this script owns one pipeline per prepare (started outside the clock,
 * like the others' workers), fed by push; one `grid node --agent` process runs the workers.
 */
export function gridd (owner: GridNode): System {
  let pipeline: ReturnType<GridNode['pipeline']> | undefined
  const results = completions()
  let runs = 0
  return {
    name: 'gridd',
    async prepare (module, workers, concurrency) {
      pipeline = owner.pipeline(`peers-${++runs}`, {
        // min = max pins the workers; the equalizer still sizes the credit window for cheap items
        stages: [{ name: 'stage', module, minWorkers: workers, maxWorkers: workers, concurrency }],
        sink: () => { results.add(1) },
        // as each system is set up for the work: a CPU-bound stage keeps 2 items per worker (one
        // running, one on its way) once measured, like Piscina's one task per thread; cheap items
        // grow the window to 1024 either way
        minWindow: 2
      })
      pipeline.done.catch((err: Error) => { results.fail(err) })
    },
    async run (items) {
      const start = results.count()
      const all = results.until(start + items.length, 'gridd')
      for (const item of items) await pipeline!.push(item)
      await all
      return results.count() - start
    },
    async release () {
      pipeline?.end()
      await pipeline?.done
    }
  }
}
export { startRedis }

/** BullMQ: a Queue here, worker processes (one job each at a time, or `concurrency`), results through QueueEvents. */
export function bullmq (redisPort: number): System {
  const connection = { host: '127.0.0.1', port: redisPort }
  let children: ChildProcess[] = []
  let queue: Queue | undefined
  let events: QueueEvents | undefined
  let results = completions()
  let runs = 0
  return {
    name: 'BullMQ',
    async prepare (module, workers, concurrency) {
      const name = `peers-${process.pid}-${++runs}`
      // the events stream must hold every completion until QueueEvents has read it
      queue = new Queue(name, { connection, streams: { events: { maxLen: 1_000_000 } } })
      await queue.waitUntilReady()
      events = new QueueEvents(name, { connection })
      await events.waitUntilReady()
      const counted = completions()
      results = counted
      events.on('completed', () => { counted.add(1) })
      events.on('failed', ({ failedReason }) => { counted.fail(new Error(`BullMQ job failed: ${failedReason}`)) })
      children = Array.from({ length: workers }, () => spawn(process.execPath, [BULLMQ_WORKER, String(redisPort), name, module, String(concurrency)], { stdio: ['ignore', 'pipe', 'inherit'] }))
      await Promise.all(children.map(async c => { await lineFrom(c, /ready/, 'BullMQ worker') }))
    },
    async run (items) {
      const start = results.count()
      const all = results.until(start + items.length, 'BullMQ')
      // the producer adds in bulk, as a BullMQ user with many jobs would
      for (let i = 0; i < items.length; i += 1000) {
        await queue!.addBulk(items.slice(i, i + 1000).map(data => ({ name: 'item', data, opts: { removeOnComplete: true, removeOnFail: true } })))
      }
      await all
      return results.count() - start
    },
    async release () {
      await Promise.all(children.map(async c => {
        if (c.exitCode != null) return
        const exited = once(c, 'exit')
        c.kill('SIGTERM')
        await exited
      }))
      children = []
      await events?.close()
      await queue?.obliterate({ force: true }).catch(() => {})
      await queue?.close()
    }
  }
}

/** Piscina: worker threads in this process, the local limit. */
export function piscina (): System {
  let pool: Piscina | undefined
  return {
    name: 'Piscina',
    async prepare (module, workers, concurrency) {
      pool = new Piscina({ filename: module, minThreads: workers, maxThreads: workers, concurrentTasksPerWorker: concurrency, idleTimeout: 60_000 })
    },
    async run (items) {
      const results = await Promise.all(items.map(async item => await pool!.run(item)))
      return results.length
    },
    async release () {
      await pool?.destroy()
      pool = undefined
    }
  }
}

/**
 * gridd's tasks: every item is `owner.run(module, item)` (all of them in flight
 * at once), each result back at the submitter. The owner's task pool is sized
 * by the owner's `tasks` options (the benchmarks pin its workers).
 */
export function griddTasks (owner: GridNode, name = 'gridd'): System {
  let module = ''
  return {
    name,
    async prepare (path) { module = path },
    async run (items) {
      const results = await Promise.all(items.map(async item => await owner.run(module, item)))
      return results.length
    },
    // the pool's workers stay for the next run, like a pool a service keeps
    async release () {}
  }
}

/** What the side-by-side benchmarks start outside the clock: one `grid node --agent` process, a redis-server, and owners on demand. */
export interface ComparisonGrid {
  agentAddress: string
  redisPort: number
  /** Load average (1 min) when it was up: other work on the machine skews every system, the multi-process ones most. */
  loadAtStart: number
  /** A new owner (a member, not an agent, logs off) joined to the agent, once it sees the agent alive; stopped by the bench's defer. */
  owner: (init?: Partial<GridNodeInit>) => Promise<GridNode>
}

/** Certificates in a temp dir, the agent (`agentArgs` added), redis; everything stopped through `defer`. */
export async function startComparisonGrid (bench: string, defer: Defer, agentArgs: string[] = []): Promise<ComparisonGrid> {
  const certs = await mkdtemp(join(tmpdir(), `gridd-bench-${bench}-`))
  defer(async () => { await rm(certs, { recursive: true, force: true }) })
  await initCertsDir(certs)
  await issueIntoDir(certs, 'agent', { roles: ['member', 'agent'] })
  const agent = await startNode(['--certs', certs, '--name', 'agent', '--agent', '--workers', '2', '--cpu', '2', ...agentArgs])
  defer(async () => { await agent.stop() })
  const redis = await startRedis()
  defer(async () => { await redis.stop() })
  const loadAtStart = round(loadavg()[0]!, 1)
  note(`gridd agent at ${agent.address}; redis-server on 127.0.0.1:${redis.port}; load average ${loadAtStart} on ${availableParallelism()} cores`)
  let owners = 0
  return {
    agentAddress: agent.address,
    redisPort: redis.port,
    loadAtStart,
    async owner (init = {}) {
      const name = `owner-${++owners}`
      await issueIntoDir(certs, name, { roles: ['member', 'agent'] })
      const owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(certs, name), peers: [agent.address], logger: pino({ level: 'silent' }), ...init })
      defer(async () => { await owner.stop() })
      while (!owner.members().some(m => m.role === 'agent' && m.state === 'alive')) await sleep(50)
      return owner
    }
  }
}
