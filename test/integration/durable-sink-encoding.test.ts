import { it, expect, onTestFinished } from 'vitest'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { GridNode, redisStreamSink, redisStreamSource } from '../../src/index.ts'
import type { FailedItem } from '../../src/pipeline/types.ts'
import { ERR_NOT_SERIALIZABLE } from '../../src/errors.ts'
import { startRedis } from './helpers/redis-server.ts'
import { pendingCount } from './helpers/streams.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))

/** A real redis-server with `values` in `stream`, a dev node that is its own agent, a source on the stream; stopped after the test. */
async function entries (stream: string, values: string[]) {
  const redisServer = await startRedis()
  const redis = new Redis(redisServer.url, { protocol: 2 })
  onTestFinished(async () => { redis.disconnect(); await redisServer.stop() })
  const node = await GridNode.start({ dev: true, host: '127.0.0.1', port: 0, agent: { workers: 1 } })
  onTestFinished(async () => { await node.stop() })
  for (const value of values) await redis.xadd(stream, '*', 'v', JSON.stringify(value))
  return { redisServer, redis, node, source: redisStreamSource({ url: redisServer.url, stream, group: 'g', endWhenEmpty: true }) }
}

// A dev node is its own agent: its worker answers over structured-clone IPC, which carries 1n to the owner
// intact, where the sink's JSON cannot encode it. That one result failed the whole batch and the run, its
// entries left pending: a deployment read them again and failed the same way on every relaunch.
it('a result a local worker carries but the sink cannot encode fails that item alone; the rest is written, every entry acked', async () => {
  const { redisServer, redis, node, source } = await entries('enc-in', ['a', 'big', 'b'])
  const run = node.pipeline('encode', { source, stages: [{ name: 's', module: stage('bigint.mjs'), minWorkers: 1, maxWorkers: 1 }], sink: redisStreamSink({ url: redisServer.url, stream: 'enc-out' }), equalize: false })
  const failed: FailedItem[] = []
  run.on('item:failed', f => failed.push(f))
  const summary = await run.done
  expect(summary).toMatchObject({ in: 3, out: 2, failed: 1 })
  expect(failed.map(f => [f.stage, f.item, f.error.code])).toEqual([['s', 1n, ERR_NOT_SERIALIZABLE]])
  const written = await redis.xrange('enc-out', '-', '+')
  expect(written.map(([, fields]) => fields[3]).sort()).toEqual(['"a"', '"b"'])
  expect(source.acked).toBe(3)
  expect(await pendingCount(redis, 'enc-in', 'g')).toBe(0)
}, 30_000)

// Dead letters through a real Redis: a failed item is written to a stream of its own before its entry is
// acknowledged (a listener of item:failed could not hold the XACK back); one whose item JSON cannot encode
// (the 1n above) is written without it, saying why.
it('a redisStreamSink as deadLetter gets each failed item before its entry is acked, an unencodable item written without it', async () => {
  const { redisServer, redis, node, source } = await entries('dl-in', ['a', 'big', 'b'])
  const deadLetter = redisStreamSink({ url: redisServer.url, stream: 'dl-failed' })
  const run = node.pipeline('dead-letters', { source, stages: [{ name: 's', module: stage('bigint.mjs'), minWorkers: 1, maxWorkers: 1 }], sink: redisStreamSink({ url: redisServer.url, stream: 'dl-out' }), deadLetter, equalize: false })
  const summary = await run.done
  expect(summary).toMatchObject({ in: 3, out: 2, failed: 1 })
  const failed = await redis.xrange('dl-failed', '-', '+')
  expect(failed).toHaveLength(1)
  const record = JSON.parse(failed[0]![1][3]!) as Record<string, unknown>
  expect(record).toMatchObject({ stage: 's', item: null, itemNotWritten: expect.stringContaining('BigInt'), error: { code: ERR_NOT_SERIALIZABLE } })
  expect(source.acked).toBe(3)
  expect(await pendingCount(redis, 'dl-in', 'g')).toBe(0)
}, 30_000)
