import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import type { GridNode } from '../../src/node.ts'
import { redisStreamSink, redisStreamSource } from '../../src/connectors/index.ts'
import type { DurableSink } from '../../src/connectors/index.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { startRedis } from './helpers/redis-server.ts'
import type { RedisServer } from './helpers/redis-server.ts'
import * as streams from './helpers/streams.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '8', '--cpu', '8', '--memory', '8192']

describe('durable pipelines: Redis stream to Redis stream through real agents', () => {
  let redisServer: RedisServer
  let redis: Redis
  let grid: GridFixture
  let agents: GridProcess[]
  let owner: GridNode

  beforeAll(async () => {
    redisServer = await startRedis()
    redis = new Redis(redisServer.url, { protocol: 2 })
    grid = await GridFixture.create(5)
    agents = await grid.startAgents(2, AGENT)
    owner = await grid.member('n3', agents[0]!, 2)
  })

  afterAll(async () => {
    await grid?.close()
    redis?.disconnect()
    await redisServer?.stop()
  })

  const produce = async (stream: string, n: number): Promise<void> => { await streams.produce(redis, stream, n) }
  const output = async (stream: string): ReturnType<typeof streams.output> => await streams.output(redis, stream)
  const expectedIds = async (stream: string): Promise<Map<string, number>> => await streams.expectedIds(redis, stream)
  const pendingCount = async (stream: string, group: string): Promise<number> => await streams.pendingCount(redis, stream, group)
  const { expectExactlyOnce } = streams

  const stages = (echoWorkers = 2): Array<{ name: string, module: string, minWorkers: number, maxWorkers?: number }> => [
    { name: 'fan', module: stage('fan-out.mjs'), minWorkers: 2 },
    { name: 'double', module: stage('plain.mjs'), minWorkers: echoWorkers }
  ]

  it('10,000 entries through a 2-stage pipeline with fan-out: every item in the output exactly once by id, nothing pending', async () => {
    await produce('in-1', 10_000)
    const source = redisStreamSource({ url: redisServer.url, stream: 'in-1', group: 'g', endWhenEmpty: true })
    const run = owner.pipeline('durable-once', { source, stages: stages(), sink: redisStreamSink({ url: redisServer.url, stream: 'out-1' }), equalize: false })
    const summary = await run.done
    expect(summary).toMatchObject({ in: 10_000, out: 12_500, failed: 0 })
    const { counts, values } = await output('out-1')
    expectExactlyOnce(counts, values, await expectedIds('in-1'))
    expect(source.acked).toBe(10_000)
    expect(await pendingCount('in-1', 'g')).toBe(0)
  }, 120_000)

  it('two streams whose entries have the same ids, and a plain iterable run twice, into one sink: every item written, none taken for a replay', async () => {
    for (const stream of ['in-a', 'in-b']) for (let i = 1; i <= 50; i++) await redis.xadd(stream, `${i}-0`, 'v', String(i))
    // one sink per run (a run closes its sink), all writing the same stream
    const sinks: Array<ReturnType<typeof redisStreamSink>> = []
    const sink = (): ReturnType<typeof redisStreamSink> => { sinks.push(redisStreamSink({ url: redisServer.url, stream: 'out-shared' })); return sinks.at(-1)! }
    const one = [{ name: 'double', module: stage('plain.mjs'), minWorkers: 1 }]
    for (const stream of ['in-a', 'in-b']) {
      const source = redisStreamSource({ url: redisServer.url, stream, group: 'g', endWhenEmpty: true })
      expect(await owner.pipeline(`shared-${stream}`, { source, stages: one, sink: sink(), equalize: false }).done).toMatchObject({ in: 50, out: 50 })
    }
    // a source that is not durable numbers its items 1, 2, … in every run
    for (const run of [1, 2]) expect(await owner.pipeline(`shared-plain-${run}`, { source: [1, 2, 3], stages: one, sink: sink(), equalize: false }).done).toMatchObject({ in: 3, out: 3 })
    expect(sinks.map(s => [s.written, s.skipped])).toEqual([[50, 0], [50, 0], [3, 0], [3, 0]])
    const { counts } = await output('out-shared')
    expect(counts.size).toBe(106)
    expect(counts.has('in-a/g/7-0') && counts.has('in-b/g/7-0')).toBe(true)
  }, 60_000)

  it('SIGKILL of an agent mid-run: still exactly once by id in the output, XPENDING empty at the end', async () => {
    const victim = await grid.start('n4', [...AGENT, '--weight', '100', '--peer', agents[0]!.address])
    await eventually(() => owner.members().some(m => m.id === victim.peerId && m.state === 'alive') ? true : undefined)
    await produce('in-2', 10_000)
    const sink = redisStreamSink({ url: redisServer.url, stream: 'out-2' })
    const run = owner.pipeline('durable-agent-dies', {
      source: redisStreamSource({ url: redisServer.url, stream: 'in-2', group: 'g', endWhenEmpty: true }),
      stages: [
        { name: 'fan', module: stage('fan-out.mjs'), minWorkers: 2 },
        { name: 'echo', module: stage('slow-echo.mjs'), minWorkers: 4, maxWorkers: 4 }
      ],
      sink,
      equalize: false
    })
    const lost: string[] = []
    run.on('worker:lost', w => lost.push(w.agentId))
    await eventually(() => sink.written > 1000 ? true : undefined, 30_000, 20)
    const writtenAtKill = sink.written
    await victim.stop('SIGKILL')
    await run.done
    expect(writtenAtKill, 'the kill must land mid-run').toBeLessThan(12_500)
    expect(lost).toContain(victim.peerId)
    const { counts, values } = await output('out-2')
    const expected = new Map([...await expectedIds('in-2')].map(([id, v]) => [id, v / 2]))
    expectExactlyOnce(counts, values, expected)
    expect(await pendingCount('in-2', 'g')).toBe(0)
  }, 120_000)

  it('a sink that fails: its entries stay pending (not acked); another consumer claims them, the replay is deduplicated, the output is exactly once', async () => {
    await produce('in-3', 3000)
    const url = redisServer.url
    const real = redisStreamSink({ url, stream: 'out-3' })
    let writes = 0
    // the sixth batch is written but its reply is lost (the sink rejects): the run fails and that batch's
    // entries are not acked, so they are replayed, and the idempotent sink must then write them no second time
    const failing: DurableSink = {
      async write (items) {
        await real.write(items)
        if (++writes >= 6) throw new Error('sink store unavailable')
      },
      async close () { await real.close() }
    }
    const first = owner.pipeline('durable-sink-fails', {
      source: redisStreamSource({ url, stream: 'in-3', group: 'g', consumer: 'first', endWhenEmpty: true }),
      stages: stages(),
      sink: failing,
      equalize: false
    })
    await expect(first.done).rejects.toThrow('sink store unavailable')
    const pendingAfterFailure = await pendingCount('in-3', 'g')
    expect(pendingAfterFailure).toBeGreaterThan(0)
    const writtenByFirst = (await output('out-3')).counts.size
    expect(writtenByFirst).toBeLessThan(3750)
    // a second consumer (another owner) claims what the first left pending once it was idle 200 ms: wait that out
    await new Promise(resolve => setTimeout(resolve, 250))
    const sink = redisStreamSink({ url, stream: 'out-3' })
    const second = owner.pipeline('durable-sink-recovers', {
      source: redisStreamSource({ url, stream: 'in-3', group: 'g', consumer: 'second', claimIdleMs: 200, endWhenEmpty: true }),
      stages: stages(),
      sink,
      equalize: false
    })
    await second.done
    const { counts, values } = await output('out-3')
    expectExactlyOnce(counts, values, await expectedIds('in-3'))
    expect(sink.skipped, 'the replayed batch was deduplicated').toBeGreaterThan(0)
    expect(await pendingCount('in-3', 'g')).toBe(0)
  }, 120_000)

  it('SIGKILL of the owner process mid-run: another owner claims its pending entries (XAUTOCLAIM); exactly once by id, XPENDING empty', async () => {
    await produce('in-4', 5000)
    const url = redisServer.url
    const script = fileURLToPath(new URL('../fixtures/durable/owner.ts', import.meta.url))
    const args = ['--certs', grid.dir, '--name', 'n5', '--peer', agents[0]!.address, '--redis', url, '--in', 'in-4', '--out', 'out-4', '--group', 'g', '--consumer', 'doomed',
      '--stage', stage('fan-out.mjs'), '--stage', stage('slow-echo.mjs')]
    const doomed = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = once(doomed, 'exit')
    grid.onClose(async () => { if (doomed.exitCode == null && doomed.signalCode == null) { doomed.kill('SIGKILL'); await exited } })
    let out = ''
    doomed.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString() })
    await eventually(() => out.includes('written') ? true : undefined, 60_000, 20)
    // well into the run: a fifth of the output written
    for (let waited = 0; await redis.xlen('out-4') < 1250; waited += 20) {
      if (waited > 60_000) throw new Error('the doomed owner stopped writing')
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    doomed.kill('SIGKILL')
    await exited
    const pendingAtKill = await pendingCount('in-4', 'g')
    const writtenAtKill = (await output('out-4')).counts.size
    expect(pendingAtKill, 'the kill must land with entries in flight').toBeGreaterThan(0)
    expect(writtenAtKill).toBeLessThan(6250)
    // the new owner claims what the dead one left once it was idle 500 ms: wait that out, then time the takeover
    await new Promise(resolve => setTimeout(resolve, 600))
    const startedAt = performance.now()
    const sink = redisStreamSink({ url, stream: 'out-4' })
    const run = owner.pipeline('durable-takeover', {
      source: redisStreamSource({ url, stream: 'in-4', group: 'g', consumer: 'survivor', claimIdleMs: 500, endWhenEmpty: true }),
      stages: [
        { name: 'fan', module: stage('fan-out.mjs'), minWorkers: 2 },
        { name: 'echo', module: stage('slow-echo.mjs'), minWorkers: 2 }
      ],
      sink,
      equalize: false
    })
    await run.done
    const { counts, values } = await output('out-4')
    const expected = new Map([...await expectedIds('in-4')].map(([id, v]) => [id, v / 2]))
    expectExactlyOnce(counts, values, expected)
    expect(await pendingCount('in-4', 'g')).toBe(0)
    process.stdout.write(`owner SIGKILLed with ${pendingAtKill} entries pending and ${writtenAtKill} items written; the new owner finished the remaining ${expected.size - writtenAtKill} in ${Math.round(performance.now() - startedAt)} ms\n`)
  }, 120_000)
})
