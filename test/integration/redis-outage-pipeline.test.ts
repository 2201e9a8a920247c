import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import type { Logger } from '../../src/logger.ts'
import { redisStreamSink, redisStreamSource } from '../../src/connectors/index.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'
import { expectExactlyOnce, output, pendingCount, produce } from './helpers/streams.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))
const ENTRIES = 3000

/** A durable pipeline run by an embedded node, through a real agent, while its redis-server is SIGKILLed and restarted, then stalled. */
describe('a durable pipeline while its Redis restarts, then stalls as the node stops', () => {
  let redisServer: RedisServer
  let redis: Redis
  let grid: GridFixture
  let agent: GridProcess

  beforeAll(async () => {
    redisServer = await startRedis({ persist: true })
    redis = new Redis(redisServer.url, { protocol: 2 })
    redis.on('error', () => {})
    grid = await GridFixture.create(4)
    agent = (await grid.startAgents(1, ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']))[0]!
  }, 60_000)

  afterAll(async () => {
    await grid?.close()
    redis?.disconnect()
    await redisServer?.stop()
  })

  it('resumes by itself after a restart; a stop while Redis is stalled ends within the stop timeout, and the next owner finishes exactly once by id', async () => {
    await produce(redis, 'in', ENTRIES)
    const warnings: Array<{ msg: string }> = []
    const logger: Logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(JSON.parse(line) as { msg: string }) } })
    const first = await grid.member('n3', agent, 1, { logger })
    const stages = [{ name: 'echo', module: stage('slow-echo.mjs'), minWorkers: 2, maxWorkers: 2 }]
    const sink = redisStreamSink({ url: redisServer.url, stream: 'out' })
    const run = first.pipeline('outage', {
      source: redisStreamSource({ url: redisServer.url, stream: 'in', group: 'g', consumer: 'owner', claimIdleMs: 1000, blockMs: 200 }),
      stages,
      sink,
      // small batches in flight, so the run lasts through both faults
      queueSize: 16,
      window: 4,
      equalize: false
    })
    await eventually(() => sink.written >= 300 ? true : undefined, 30_000, 10)
    await redisServer.signal('SIGKILL')
    await sleep(2000)
    await redisServer.restart()
    const afterRestart = sink.written
    await eventually(() => sink.written > afterRestart + 100 ? true : undefined, 30_000, 10)
    expect(sink.written, 'the stall must land mid-run').toBeLessThan(ENTRIES)

    await redisServer.signal('SIGSTOP')
    await sleep(500)
    const stopping = performance.now()
    await first.stop()
    const stopMs = performance.now() - stopping
    await redisServer.signal('SIGCONT')
    const ended = await Promise.race([run.done.then(() => 'finished', (err: { code?: string }) => err.code), sleep(10_000, 'still running')])
    expect(ended).toBe('ERR_PIPELINE_CANCELLED')
    // the stop waited for the run's connectors, which gave up on the stalled Redis: nothing forced, nothing failed
    expect(warnings.map(w => w.msg).filter(m => /stop|destroy/.test(m))).toEqual([])
    expect(stopMs).toBeLessThan(5000)

    // another owner, under the same consumer name, reads what was left pending first
    const second = await grid.member('n4', agent, 1)
    const rest = second.pipeline('outage-rest', {
      source: redisStreamSource({ url: redisServer.url, stream: 'in', group: 'g', consumer: 'owner', claimIdleMs: 1000, blockMs: 200, endWhenEmpty: true }),
      stages,
      sink: redisStreamSink({ url: redisServer.url, stream: 'out' }),
      equalize: false
    })
    await rest.done
    const { counts, values } = await output(redis, 'out')
    // slow-echo returns each value as it is: one item per entry, under the entry's id
    const expected = new Map((await redis.xrange('in', '-', '+')).map(([id, fields]) => [`in/g/${id}`, Number(fields[1])]))
    expectExactlyOnce(counts, values, expected)
    expect(await pendingCount(redis, 'in', 'g')).toBe(0)
  }, 120_000)
})
