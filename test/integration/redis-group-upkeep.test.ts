import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { eventually } from './helpers/grid-process.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'
import { output, pendingCount, produce } from './helpers/streams.ts'
import { collectingLog, consumeByHand } from './helpers/redis-by-hand.ts'
import { idleConsumerSweep } from '../../src/connectors/redis-group.ts'
import { redisStreamSource } from '../../src/connectors/index.ts'
import type { ByHand, LogLine } from './helpers/redis-by-hand.ts'

/**
 * The consumer group a source reads through, when Redis loses it (a restart without persistence,
 * FLUSHALL, the stream deleted, the group destroyed) and as consumers come and go: a plain run,
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

  it('the group destroyed, the stream kept: created again at the start, the warning says how many entries come again, and an entry still inside is not handed out a second time meanwhile', async () => {
    await produce(redis, 'kept', 5)
    const source = redisStreamSource({ url: redisServer.url, stream: 'kept', group: 'g', consumer: 'c', blockMs: 100, log: collectingLog(lines) })
    const reading = new AbortController()
    running.push({ reading, consumer: { done: Promise.resolve(), count: () => 0, close: source.close } })
    const iterator = source.entries(reading.signal)[Symbol.asyncIterator]()
    const pull = async (): Promise<string> => (await iterator.next()).value!.id
    // the first entry stays inside the pipeline (not acknowledged); the other four are done
    const held = await pull()
    const done: string[] = []
    for (let i = 0; i < 4; i++) { const id = await pull(); done.push(id); source.ack(id) }
    await eventually(() => source.acked === 4 ? true : undefined, 5000, 10)
    await redis.xgroup('DESTROY', 'kept', 'g')
    // the new group starts at 0: the four done come again (the sink's dedupe skips them); the one inside does not
    const again: string[] = []
    for (let i = 0; i < 4; i++) again.push(await pull())
    expect(again).toEqual(done)
    source.ack(held)
    for (const id of again) source.ack(id)
    await eventually(async () => await pendingCount(redis, 'kept', 'g') === 0 ? true : undefined, 5000, 20)
    const warning = groupLostWarnings()
    expect(warning.length).toBe(1)
    expect(warning[0]).toMatchObject({ startId: '0', created: true, entries: 5 })
    expect(warning[0]!.msg).toMatch(/the 5 entries in the stream are delivered again/)
  })

  it('a group destroyed again as soon as it is created: its source backs off (50 ms doubling to 1 s) instead of recreating it in a busy loop, then reads on', async () => {
    await redis.xgroup('CREATE', 'busy', 'g', '0', 'MKSTREAM')
    const { consumer, failure } = consume('busy', 'busy-out', { blockMs: 100 })
    await sleep(300)
    const creates = async (): Promise<number> => Number(/cmdstat_xgroup\|create:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0)
    const before = await creates()
    // something destroys the group as fast as it can, for 1.5 s
    for (const until = performance.now() + 1500; performance.now() < until;) await redis.xgroup('DESTROY', 'busy', 'g')
    const during = await creates() - before
    // backed off: a handful of creations in 1.5 s (0, 50, 100, 200 … ms apart, at most 1 s); a busy loop made over 10,000
    expect(during).toBeGreaterThan(0)
    expect(during).toBeLessThan(40)
    await produce(redis, 'busy', 10)
    await eventually(async () => (await output(redis, 'busy-out')).counts.size === 10 ? true : undefined, 10_000, 50)
    expect(consumer.count()).toBe(10)
    expect(failure()).toBeUndefined()
  })

  it('removes consumers idle 10 × claimIdleMs with nothing pending after its claim pass (what one left pending claimed first), at most 100 a pass', async () => {
    await redis.xgroup('CREATE', 'jobs', 'g', '0', 'MKSTREAM')
    await produce(redis, 'jobs', 10)
    // owners gone under names of their own (a pod restarted under a new peer id, each time)
    const pipe = redis.pipeline()
    for (let i = 0; i < 150; i++) pipe.xgroup('CREATECONSUMER', 'jobs', 'g', `gone-${i}`)
    await pipe.exec()
    // one left 3 entries pending: claimed by the source once idle, then it holds nothing
    await redis.xreadgroup('GROUP', 'g', 'crashed', 'COUNT', 3, 'STREAMS', 'jobs', '>')
    const { consumer, failure } = consume('jobs', 'jobs-out', { consumer: 'me', claimIdleMs: 200, blockMs: 100 })
    const names = async (): Promise<Map<string, number>> => {
      const info = await redis.xinfo('CONSUMERS', 'jobs', 'g') as Array<Array<string | number>>
      return new Map(info.map(c => [String(c[c.indexOf('name') + 1]), Number(c[c.indexOf('pending') + 1])]))
    }
    // idle past 10 × 200 ms: removed within a few claim passes
    await eventually(async () => (await names()).size === 1 ? true : undefined, 15_000, 100)
    expect([...await names()]).toEqual([['me', 0]])
    await eventually(async () => (await output(redis, 'jobs-out')).counts.size === 10 ? true : undefined, 10_000, 50)
    expect(consumer.count()).toBe(10)
    const passes = lines.filter(l => /removed consumers idle/.test(l.msg)).map(l => l.removed as number)
    expect(passes.reduce((a, b) => a + b, 0)).toBe(151)
    expect(Math.max(...passes)).toBe(100)
    expect(failure()).toBeUndefined()
  }, 30_000)

  it('the removal keeps a consumer that holds entries, however long idle (they would never be read again), and the caller itself', async () => {
    await redis.xgroup('CREATE', 'held', 'g', '0', 'MKSTREAM')
    await produce(redis, 'held', 2)
    await redis.xreadgroup('GROUP', 'g', 'holder', 'COUNT', 1, 'STREAMS', 'held', '>')
    await redis.xgroup('CREATECONSUMER', 'held', 'g', 'gone')
    await redis.xgroup('CREATECONSUMER', 'held', 'g', 'me')
    await sleep(300)
    // the pass alone, with no claim before it: 'holder' still holds its entry
    const sweep = idleConsumerSweep(redis, 'held', 'g', 'me', 200)
    expect(await sweep()).toEqual(['gone'])
    expect(await pendingCount(redis, 'held', 'g')).toBe(1)
    const info = await redis.xinfo('CONSUMERS', 'held', 'g') as Array<Array<string | number>>
    expect(info.map(c => c[1]).sort()).toEqual(['holder', 'me'])
  })
})
