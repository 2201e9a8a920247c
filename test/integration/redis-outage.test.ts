import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { redisStreamSink } from '../../src/connectors/index.ts'
import { connectorsFor } from '../../src/deployments/definition.ts'
import { eventually } from './helpers/grid-process.ts'
import { freePort } from './helpers/ports.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'
import { output, pendingCount, produce } from './helpers/streams.ts'
import { collectingLog, consumeByHand } from './helpers/redis-by-hand.ts'
import type { ByHand, LogLine } from './helpers/redis-by-hand.ts'

/**
 * The connectors while their redis-server goes away: SIGKILLed and restarted with its
 * data (an AOF), or stalled (SIGSTOP). Driven by hand like a run drives them: read an
 * entry, write it, acknowledge it.
 */
describe('redisStreamSource and redisStreamSink while Redis restarts or stalls', () => {
  let redisServer: RedisServer
  let redis: Redis
  let lines: LogLine[]
  const log = (): ReturnType<typeof collectingLog> => collectingLog(lines)
  const closers: Array<() => Promise<void>> = []

  beforeEach(async () => {
    lines = []
    redisServer = await startRedis({ persist: true })
    redis = new Redis(redisServer.url, { protocol: 2 })
    redis.on('error', () => {})
  })

  afterEach(async () => {
    vi.restoreAllMocks()
    for (const close of closers.splice(0)) await close().catch(() => {})
    redis?.disconnect()
    await redisServer?.stop()
  })

  /** Reads `stream` into `out` (each entry written, then acknowledged) until `signal` aborts; counts what it finished. */
  function consume (stream: string, out: string, signal: AbortSignal, reconnectMaxMs?: number): ByHand {
    const consumer = consumeByHand(redisServer.url, stream, out, signal, log(), reconnectMaxMs == null ? {} : { reconnectMaxMs })
    closers.push(consumer.close)
    return consumer
  }

  const expectOutputOnce = async (out: string, entries: number): Promise<void> => {
    const { counts } = await output(redis, out)
    expect([...counts.values()].filter(c => c !== 1), 'ids written more than once').toEqual([])
    expect(counts.size).toBe(entries)
  }

  it('SIGKILLed and restarted with its data: the outage is logged once per connection and kind, not printed by ioredis; the rest goes through exactly once, nothing pending', async () => {
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => {})
    await produce(redis, 'in-kill', 300)
    const reading = new AbortController()
    const consumer = consume('in-kill', 'out-kill', reading.signal)
    await eventually(() => consumer.count() >= 50 ? true : undefined, 10_000, 10)
    await redisServer.signal('SIGKILL')
    // several reconnection attempts of each of the three connections
    await sleep(3000)
    await redisServer.restart()
    await eventually(async () => (await output(redis, 'out-kill')).counts.size === 300 && await pendingCount(redis, 'in-kill', 'g') === 0 ? true : undefined, 30_000, 100)
    await expectOutputOnce('out-kill', 300)
    const printed = stderr.mock.calls.filter(call => String(call[0]).includes('ioredis'))
    expect(printed.map(call => String(call[0])), 'ioredis printing unhandled error events').toEqual([])
    const outage = lines.filter(l => l.level === 40 && l.msg.includes('Redis connection'))
    // reader, writer and sink, each once per kind of error (reset, refused): not once per attempt
    expect(outage.length).toBeGreaterThan(0)
    expect(outage.length).toBeLessThanOrEqual(6)
    reading.abort()
    await consumer.close()
  }, 60_000)

  it('gone longer than ioredis\'s retry bound (20 reconnection attempts, about 70 s at the default reconnectMaxMs, shown here with reconnectMaxMs 100 ms): the write in flight waits, the stall is logged, and the rest goes through exactly once', async () => {
    await produce(redis, 'in-long', 200)
    const reading = new AbortController()
    const consumer = consume('in-long', 'out-long', reading.signal, 100)
    await eventually(() => consumer.count() >= 30 ? true : undefined, 10_000, 10)
    await redisServer.signal('SIGKILL')
    // 21 attempts take at most 21 × (100 + 200 ms of jitter) = 6.3 s: ioredis's default bound would have failed the write by now
    await sleep(8000)
    let failed: string | undefined
    consumer.done.catch((err: Error) => { failed = `${err.name}: ${err.message}` })
    await sleep(0)
    expect(failed, 'the reading (a plain run) failed during the outage').toBeUndefined()
    const stalls = lines.filter(l => l.level === 40 && /has not answered a write/.test(l.msg))
    expect(stalls.length, 'the write waiting is logged as a stall').toBeGreaterThanOrEqual(1)
    await redisServer.restart()
    await eventually(async () => (await output(redis, 'out-long')).counts.size === 200 && await pendingCount(redis, 'in-long', 'g') === 0 ? true : undefined, 30_000, 100)
    await expectOutputOnce('out-long', 200)
    expect(failed).toBeUndefined()
    reading.abort()
    await consumer.close()
  }, 60_000)

  it('away when the reading starts (or lost during its start): it waits for Redis with a stall warning, then reads everything exactly once', async () => {
    await produce(redis, 'in-late', 50)
    await redisServer.signal('SIGKILL')
    const reading = new AbortController()
    const consumer = consume('in-late', 'out-late', reading.signal, 100)
    let failed: string | undefined
    consumer.done.catch((err: Error) => { failed = `${err.name}: ${err.message}` })
    await eventually(() => lines.some(l => l.level === 40 && /has not answered a read/.test(l.msg)) ? true : undefined, 10_000, 20)
    expect(failed, 'the reading failed while Redis was away at its start').toBeUndefined()
    // a Redis never reached may be a wrong URL: the connection's warning says so
    expect(lines.filter(l => l.level === 40 && l.connection === 'reader').map(l => l.msg)).toContain(`the Redis connection (reader) failed and has not been made since the start (is ${redisServer.url} right, and Redis up?); reconnecting`)
    await redisServer.restart()
    await eventually(async () => (await output(redis, 'out-late')).counts.size === 50 && await pendingCount(redis, 'in-late', 'g') === 0 ? true : undefined, 30_000, 100)
    await expectOutputOnce('out-late', 50)
    expect(failed).toBeUndefined()
    reading.abort()
    await consumer.close()
  }, 60_000)

  it('gone, a write in flight, when the run ends: close takes at most a few seconds and the write fails with ERR_CONNECTOR_CLOSED (it would never be answered)', async () => {
    const sink = redisStreamSink({ url: redisServer.url, stream: 'out-gone', reconnectMaxMs: 100, log: log() })
    closers.push(sink.close)
    await sink.write([{ id: 'in/g/1-0', value: 1 }])
    await redisServer.signal('SIGKILL')
    const writing = sink.write([{ id: 'in/g/2-0', value: 2 }]).then(() => 'written', (err: { code?: string }) => err.code)
    await sleep(1000)
    const closing = performance.now()
    await sink.close()
    expect(performance.now() - closing).toBeLessThan(5000)
    expect(await Promise.race([writing, sleep(1000, 'still waiting')])).toBe('ERR_CONNECTOR_CLOSED')
  }, 30_000)

  it('stalled (SIGSTOP): the reading waits and resumes on SIGCONT; closing while it is stalled takes at most a few seconds, and what it left pending is replayed once', async () => {
    await produce(redis, 'in-stall', 300)
    const reading = new AbortController()
    const consumer = consume('in-stall', 'out-stall', reading.signal)
    await eventually(() => consumer.count() >= 50 ? true : undefined, 10_000, 10)
    await redisServer.signal('SIGSTOP')
    await sleep(1000)
    const during = consumer.count()
    await sleep(1000)
    expect(consumer.count(), 'nothing goes through a stalled Redis').toBe(during)
    // a stall raises no error from ioredis: the connectors tell it themselves, once (rate-limited) each
    const stalls = lines.filter(l => l.level === 40 && /has not answered/.test(l.msg))
    expect(stalls.length, JSON.stringify(stalls)).toBeGreaterThanOrEqual(1)
    expect(stalls.length).toBeLessThanOrEqual(2)
    await redisServer.signal('SIGCONT')
    await eventually(() => consumer.count() >= during + 20 ? true : undefined, 10_000, 10)
    await redisServer.signal('SIGSTOP')
    await sleep(500)
    // the run ends while Redis answers nothing: its close must not wait for replies for as long as the stall lasts
    reading.abort()
    const closing = performance.now()
    const closed = await Promise.race([consumer.close().then(() => true), sleep(10_000, false)])
    const closeMs = performance.now() - closing
    await redisServer.signal('SIGCONT')
    expect(closed, 'close() settled while Redis was stalled').toBe(true)
    expect(closeMs).toBeLessThan(5000)
    // the next start under the same consumer name reads what was left pending first: the sink skips the replays
    const next = new AbortController()
    const again = consume('in-stall', 'out-stall', next.signal)
    await eventually(async () => (await output(redis, 'out-stall')).counts.size === 300 && await pendingCount(redis, 'in-stall', 'g') === 0 ? true : undefined, 30_000, 100)
    await expectOutputOnce('out-stall', 300)
    next.abort()
    await again.close()
  }, 60_000)

  it('gone for good: a deployment\'s connectors warn through the run\'s logger (once per connection and kind), the source\'s read and the sink\'s write wait, and closing takes at most a few seconds', async () => {
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => {})
    // the connectors as a deployment's definition gets them (ctx.connectors), given no log of its own
    const connectors = await connectorsFor(log())
    const url = `redis://127.0.0.1:${await freePort()}`
    const source = connectors.redisStreamSource({ url, stream: 'in', group: 'g', consumer: 'c', stallWarnMs: 500 })
    const sink = connectors.redisStreamSink({ url, stream: 'out', stallWarnMs: 500 })
    closers.push(async () => { await Promise.all([source.close(), sink.close()]) })
    const reading = new AbortController()
    let read: string | undefined
    const first = source.entries(reading.signal)[Symbol.asyncIterator]().next()
    first.then(next => { read = next.done === true ? 'ended' : 'read' }, (err: Error) => { read = err.message })
    let written: string | undefined
    sink.write([{ id: 'in/g/1-0', value: 1 }]).then(() => { written = 'written' }, (err: Error) => { written = err.message })
    await sleep(3000)
    expect(read, 'a read waits for Redis').toBeUndefined()
    expect(written, 'a write waits for Redis').toBeUndefined()
    reading.abort()
    expect(await first, 'the abort ends the reading quietly').toEqual({ done: true, value: undefined })
    const closing = performance.now()
    await Promise.all([source.close(), sink.close()])
    expect(performance.now() - closing).toBeLessThan(5000)
    const outage = lines.filter(l => l.level === 40 && l.msg.includes('Redis connection'))
    // (the source's writer connection opens with its first acknowledgement: none here)
    expect(outage.map(l => l.connection).sort()).toEqual(['reader', 'sink'])
    const stalls = lines.filter(l => l.level === 40 && /has not answered a (read|write)/.test(l.msg)).map(l => l.msg.slice(0, 29))
    expect(stalls.sort()).toEqual(['Redis has not answered a read', 'Redis has not answered a writ'])
    expect(stderr.mock.calls.filter(call => String(call[0]).includes('ioredis'))).toEqual([])
  }, 30_000)
})
