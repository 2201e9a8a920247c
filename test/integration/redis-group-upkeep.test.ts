import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { eventually } from './helpers/grid-process.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'
import { output, pendingCount, produce } from './helpers/streams.ts'
import { collectingLog, consumeByHand } from './helpers/redis-by-hand.ts'
import type { ByHand, LogLine } from './helpers/redis-by-hand.ts'

/**
 * The consumer group a source reads through, when Redis loses it (a restart without persistence,
 * FLUSHALL, the stream deleted, the group destroyed): a plain run,
 * driven by hand as a run drives its connectors, against a real redis-server.
 */
describe('redisStreamSource keeps its consumer group', () => {
  let redisServer: RedisServer
  let redis: Redis
  let lines: LogLine[]
  const running: Array<{ reading: AbortController, consumer: ByHand }> = []

  beforeEach(async () => {
    lines = []
    // no persistence: a SIGKILL and a restart lose every key, the group with its stream
    redisServer = await startRedis()
    redis = new Redis(redisServer.url, { protocol: 2 })
    redis.on('error', () => {})
  })

  afterEach(async () => {
    for (const { reading, consumer } of running.splice(0)) {
      reading.abort()
      await consumer.close().catch(() => {})
    }
    redis?.disconnect()
    await redisServer?.stop()
  })

  function consume (stream: string, out: string, source: Parameters<typeof consumeByHand>[5] = {}): { consumer: ByHand, failure: () => string | undefined } {
    const reading = new AbortController()
    const consumer = consumeByHand(redisServer.url, stream, out, reading.signal, collectingLog(lines), { reconnectMaxMs: 100, ...source })
    running.push({ reading, consumer })
    let failed: string | undefined
    consumer.done.catch((err: Error) => { failed = err.message })
    return { consumer, failure: () => failed }
  }

  const groupLostWarnings = (): LogLine[] => lines.filter(l => l.level === 40 && /consumer group is gone/.test(l.msg))

  it('lost to a restart without persistence, to FLUSHALL, to the stream deleted and to the group destroyed: created again, the run goes on, one warning a minute', async () => {
    await produce(redis, 'in', 100)
    const { consumer, failure } = consume('in', 'out')
    await eventually(() => consumer.count() >= 100 ? true : undefined, 10_000, 10)

    // a restart without persistence: the stream, the group and the sink's output all gone
    await redisServer.signal('SIGKILL')
    await redisServer.restart()
    await produce(redis, 'in', 50, 1001)
    await eventually(async () => (await output(redis, 'out')).counts.size === 50 ? true : undefined, 15_000, 50)
    expect(failure()).toBeUndefined()

    // FLUSHALL and DEL while the source is blocked in XREADGROUP (answered UNBLOCKED), then NOGROUP
    for (const [i, lose] of [async () => await redis.flushall(), async () => await redis.del('in')].entries()) {
      await sleep(300)
      await lose()
      await produce(redis, 'in', 20, 2001 + i * 100)
      await eventually(async () => (await output(redis, 'out')).counts.size === (i === 0 ? 20 : 40) ? true : undefined, 15_000, 50)
      expect(failure()).toBeUndefined()
    }

    // the group destroyed, the stream kept: read again from its start (NEW_GROUP_ID), the sink skips what it wrote
    const before = (await output(redis, 'out')).counts.size
    await redis.xgroup('DESTROY', 'in', 'g')
    await produce(redis, 'in', 10, 3001)
    await eventually(async () => (await output(redis, 'out')).counts.size === before + 10 && await pendingCount(redis, 'in', 'g') === 0 ? true : undefined, 15_000, 50)
    const { counts } = await output(redis, 'out')
    expect([...counts.values()].filter(c => c !== 1), 'ids written more than once').toEqual([])
    expect(failure()).toBeUndefined()
    // rate-limited: once in the minute, however many times the group was lost and commands answered NOGROUP
    expect(groupLostWarnings().length).toBe(1)
    expect(groupLostWarnings()[0]!.startId).toBe('0')
  }, 60_000)
})
