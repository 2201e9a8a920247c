/**
 * One BullMQ worker process for `npm run bench:peers`: runs the same stage
 * module as gridd and Piscina on every job of the queue and returns its
 * result (BullMQ publishes it to QueueEvents). Prints "ready" once connected;
 * SIGTERM closes it.
 *   node peers-bullmq-worker.ts <redis port> <queue> <module path> <concurrency>
 */
import { pathToFileURL } from 'node:url'
import { Worker } from 'bullmq'

const [port, queue, modulePath, concurrency] = process.argv.slice(2)
const stage = (await import(pathToFileURL(modulePath!).href) as { default: (item: unknown) => unknown }).default
const worker = new Worker(queue!, async job => stage(job.data), {
  connection: { host: '127.0.0.1', port: Number(port) },
  concurrency: Number(concurrency),
  // the benchmark measures throughput, not metrics collection
  metrics: undefined
})
await worker.waitUntilReady()
process.stdout.write('ready\n')
process.on('SIGTERM', () => { void worker.close().finally(() => process.exit(0)) })
