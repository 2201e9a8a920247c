import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { redisStreamSink, redisStreamSource } from '../../src/connectors/index.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'
import { pendingCount } from './helpers/streams.ts'

/** The connectors alone against a real redis-server, driven by hand. */
describe('redisStreamSource and redisStreamSink against a real Redis', () => {
  let redisServer: RedisServer
  let redis: Redis

  beforeAll(async () => {
    redisServer = await startRedis()
    redis = new Redis(redisServer.url, { protocol: 2 })
  })

  afterAll(async () => {
    redis?.disconnect()
    await redisServer?.stop()
  })

  it('an entry acknowledged after claimIdleMs is not claimed and handed out again while its XACK is on its way', async () => {
    await redis.xadd('src-ack-race', '*', 'v', '1')
    const source = redisStreamSource({ url: redisServer.url, stream: 'src-ack-race', group: 'g', consumer: 'a', claimIdleMs: 50, blockMs: 100, endWhenEmpty: true })
    const reading = new AbortController()
    const entries = source.entries(reading.signal)[Symbol.asyncIterator]()
    const first = await entries.next()
    expect(first.done).toBe(false)
    // the pipeline took longer than claimIdleMs on it: idle that long in the pending list, then done
    await sleep(100)
    source.ack(first.value!.id)
    // the next pull claims what is idle (due again): the entry just finished must not come back
    const next = await entries.next()
    expect(next.done ? 'ended' : `handed out again: ${next.value!.id}`).toBe('ended')
    reading.abort()
    await source.close()
    expect(source.acked).toBe(1)
    expect(await pendingCount(redis, 'src-ack-race', 'g')).toBe(0)
  })

  it('a sink write refuses an item it cannot encode alone and writes the rest of the batch', async () => {
    const sink = redisStreamSink({ url: redisServer.url, stream: 'sink-encode' })
    const custom = redisStreamSink({ url: redisServer.url, stream: 'sink-encode', encode: value => { if (value === 'bad') throw new Error('no'); return String(value) } })
    try {
      const refused = await sink.write([{ id: 'a', value: 1 }, { id: 'b', value: { total: 10n } }, { id: 'c', value: 3 }])
      expect(refused?.map(r => [r.id, (r.error as { code?: string }).code])).toEqual([['b', 'ERR_NOT_SERIALIZABLE']])
      const refusedToo = await custom.write([{ id: 'd', value: 'bad' }, { id: 'e', value: 'fine' }])
      expect(refusedToo?.map(r => r.id)).toEqual(['d'])
      // a batch of nothing it can encode makes no round trip and writes nothing
      expect((await sink.write([{ id: 'f', value: 1n }]))?.map(r => r.id)).toEqual(['f'])
      const entries = await redis.xrange('sink-encode', '-', '+')
      expect(entries.map(([, fields]) => fields)).toEqual([['id', 'a', 'v', '1'], ['id', 'c', 'v', '3'], ['id', 'e', 'v', 'fine']])
      expect([sink.written, sink.skipped, custom.written]).toEqual([2, 0, 1])
    } finally {
      await sink.close()
      await custom.close()
    }
  })

  it('a sink whose dedupe time Redis cannot take is refused at once: its script appended, failed to mark the id, and each retry appended again', async () => {
    for (const dedupeTtlS of [0, 1.5, -1, Number.NaN]) {
      let sink: ReturnType<typeof redisStreamSink> | undefined
      try {
        sink = redisStreamSink({ url: redisServer.url, stream: 'sink-ttl', dedupeTtlS })
        // what the run does after a failed write: the same batch again
        for (let attempt = 0; attempt < 2; attempt++) await sink.write([{ id: 'in/g/1-0', value: 1 }]).catch(() => {})
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ERR_CONFIG')
      } finally {
        await sink?.close()
      }
    }
    expect(await redis.xlen('sink-ttl')).toBe(0)
  })
})
