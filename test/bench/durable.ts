/**
 * `npm run bench:durable`: durable pipelines on a real redis-server (started
 * here on a free port, persistence off). Two parts, one agent (another
 * process) running a no-op stage, this process owning the pipelines:
 * 1. throughput: `--items N` entries (default 200 k; 50 k with --quick) from a
 *    Redis stream through the stage to a Redis stream (consumer group, acks,
 *    idempotent sink), against the same items from an in-memory array to a
 *    no-op function sink, in the same run: the ratio is the connectors' cost;
 * 2. memory: an endless stream (a producer here keeps ~50 k entries ahead of
 *    the acks) through the same pipeline; this process's RSS after a full GC
 *    every `--every N` items (default 1 M; 100 k with --quick) after a warm-up
 *    of `--warmup N`, for `--endless N` items (default 5 M; 600 k with --quick).
 *    Passes when the last reading is within 10 % of the first.
 */
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Redis } from 'ioredis'
import { redisStreamSink, redisStreamSource } from '../../src/connectors/index.ts'
import type { DurableSink } from '../../src/connectors/index.ts'
import { ERR_PIPELINE_CANCELLED } from '../../src/errors.ts'
import { startRedis } from '../integration/helpers/redis-server.ts'
import { note, sleep, table } from './lib.ts'
import { runBench } from './report.ts'
import { ownerWithAgent } from './owner-with-agent.ts'

const LIMIT = 1.10
const NOOP = fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url))
/** Entries the producer keeps ahead of the acknowledgements (and the streams are trimmed to about 4 × this). */
const AHEAD = 50_000

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const mb = (bytes: number): number => Math.round(bytes / 1024 / 102.4) / 10

interface Reading { items: number, rssMb: number, heapUsedMb: number, atS: number }

await runBench('durable', ['--items', '--endless', '--every', '--warmup'], async (args, defer) => {
  const ITEMS = args.number('--items', args.quick ? 50_000 : 200_000)
  const ENDLESS = args.number('--endless', args.quick ? 600_000 : 5_000_000)
  const EVERY = args.number('--every', args.quick ? 100_000 : 1_000_000)
  const WARMUP = args.number('--warmup', args.quick ? 200_000 : 500_000)
  const redisServer = await startRedis()
  defer(async () => { await redisServer.stop() })
  const url = redisServer.url
  const redis = new Redis(url, { protocol: 2 })
  defer(() => { redis.disconnect() })
  const owner = await ownerWithAgent('durable', defer)
  const stages = [{ name: 'noop', module: NOOP, minWorkers: 1, maxWorkers: 1 }]

  async function produce (stream: string, from: number, count: number): Promise<void> {
    for (let at = from; at < from + count; at += 2000) {
      const batch = redis.pipeline()
      for (let i = at; i < Math.min(at + 2000, from + count); i++) batch.xadd(stream, 'MAXLEN', '~', 4 * AHEAD, '*', 'v', String(i))
      await batch.exec()
    }
  }

  // 1. throughput, Redis to Redis vs memory to memory, timed from the first item out (a worker's start is not the
  // connectors' cost); the memory run goes first and warms the agent up
  note(`redis-server on ${url}; ${ITEMS} items each way`)
  const rate = (firstOutAt: number): number => Math.round((ITEMS - 1) / ((performance.now() - firstOutAt) / 1000))
  let firstOut = 0
  const memory = await owner.pipeline('durable-memory', { source: Array.from({ length: ITEMS }, (_, i) => i), stages, sink: () => { if (firstOut === 0) firstOut = performance.now() }, equalize: false }).done
  const memoryPerS = rate(firstOut)
  await produce('bench-in', 0, ITEMS)
  const source = redisStreamSource({ url, stream: 'bench-in', group: 'bench', endWhenEmpty: true })
  const redisSink = redisStreamSink({ url, stream: 'bench-out' })
  firstOut = 0
  const viaRedis = await owner.pipeline('durable-redis', {
    source,
    stages,
    sink: { async write (items) { await redisSink.write(items); if (firstOut === 0) firstOut = performance.now() }, close: async () => { await redisSink.close() } },
    equalize: false
  }).done
  const redisPerS = rate(firstOut)
  if (memory.out !== ITEMS || viaRedis.out !== ITEMS || source.acked !== ITEMS) throw new Error(`lost items: ${JSON.stringify({ memory, viaRedis, acked: source.acked })}`)
  const written = await redis.xlen('bench-out')
  if (written !== ITEMS) throw new Error(`bench-out holds ${written} entries, not ${ITEMS}`)
  note(`memory ${memoryPerS} items/s, Redis to Redis ${redisPerS} items/s`)

  // 2. an endless stream: owner RSS every EVERY items
  const readings: Reading[] = []
  const endlessSource = redisStreamSource({ url, stream: 'endless-in', group: 'bench' })
  // ids remembered 30 s: Redis keeps ~30 s of them, not millions
  const realSink = redisStreamSink({ url, stream: 'endless-out', maxLen: 4 * AHEAD, dedupeTtlS: 30 })
  let delivered = -WARMUP
  const t0 = performance.now()
  let stop: () => void = () => {}
  const sink: DurableSink = {
    async write (items) {
      await realSink.write(items)
      const before = delivered
      delivered += items.length
      if (delivered < EVERY || Math.floor(before / EVERY) === Math.floor(delivered / EVERY)) return
      gc()
      const m = process.memoryUsage()
      readings.push({ items: Math.floor(delivered / EVERY) * EVERY, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), atS: Math.round((performance.now() - t0) / 100) / 10 })
      note(`${readings.at(-1)!.items} items after the warm-up: ${JSON.stringify(readings.at(-1))}`)
      if (delivered >= ENDLESS) stop()
    },
    async close () { await realSink.close() }
  }
  const run = owner.pipeline('durable-endless', { source: endlessSource, stages, sink, equalize: false })
  stop = () => { run.cancel() }
  let produced = 0
  let producing = true
  const producer = (async () => {
    while (producing) {
      if (produced - endlessSource.acked < AHEAD) {
        await produce('endless-in', produced, 10_000)
        produced += 10_000
      } else {
        await sleep(20)
      }
    }
  })()
  defer(async () => { producing = false; await producer })
  await run.done.catch((err: Error & { code?: string }) => { if (err.code !== ERR_PIPELINE_CANCELLED) throw err })
  producing = false
  await producer
  const endlessPerS = Math.round((delivered + WARMUP) / ((performance.now() - t0) / 1000))
  const first = readings[0]!
  const last = readings.at(-1)!
  const ratio = Math.round(last.rssMb / first.rssMb * 1000) / 1000
  process.stdout.write(table(['part', 'items/s'], [['memory array -> no-op sink', String(memoryPerS)], ['Redis stream -> Redis stream', String(redisPerS)], ['endless Redis stream', String(endlessPerS)]]))
  process.stdout.write(table(['items after warm-up', 'owner RSS (MB, after GC)', 'JS heap used (MB)', 's'], readings.map(r => [String(r.items), String(r.rssMb), String(r.heapUsedMb), String(r.atS)])))
  return {
    figures: {
      redisItemsPerS: { value: redisPerS, unit: 'items/s', label: 'Redis stream to Redis stream' },
      memoryItemsPerS: { value: memoryPerS, unit: 'items/s', label: 'in-memory array to function sink' },
      throughputRatio: { value: Math.round(redisPerS / memoryPerS * 100) / 100, unit: '×', label: 'Redis / memory' },
      rssRatio: { value: ratio, unit: '×', label: `owner RSS after ${last.items} / after ${first.items}` },
      rssFirstMb: { value: first.rssMb, unit: 'MB', label: `RSS after ${first.items}` },
      rssLastMb: { value: last.rssMb, unit: 'MB', label: `RSS after ${last.items}` },
      endlessItemsPerS: { value: endlessPerS, unit: 'items/s', label: 'endless stream' }
    },
    targets: [{ figure: 'rssRatio', comparator: '<=', bound: LIMIT }],
    rows: [
      { what: 'durable pipeline throughput: Redis stream -> no-op remote stage -> Redis stream (consumer group, acks, idempotent sink) vs an in-memory array', figures: ['redisItemsPerS', 'memoryItemsPerS', 'throughputRatio'], note: `${ITEMS} items each` },
      { what: 'owner RSS, endless Redis stream through a durable pipeline (full GC before each reading)', figures: ['rssRatio', 'rssFirstMb', 'rssLastMb', 'endlessItemsPerS'], note: `after a ${WARMUP}-item warm-up` }
    ],
    details: { items: ITEMS, endless: ENDLESS, every: EVERY, warmup: WARMUP, readings }
  }
})
