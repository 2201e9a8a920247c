import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { redisStreamSource } from '../../src/connectors/index.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'
import { pendingCount } from './helpers/streams.ts'

/** The source alone against a real redis-server, its entries pulled and acknowledged by hand. */
describe('redisStreamSource against a real Redis', () => {
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
})
