/**
 * `npm run bench:deploy`: pipeline deployments on a real redis-server (started
 * here, persistence off): one agent process, member processes that run
 * deployments, and an observer in this process that deploys and watches.
 * 1. takeover: `--entries N` (default 30 k; 10 k with --quick) arrive on a Redis
 *    stream while the deployment's owner is SIGKILLed `--kills K` times (default
 *    2; 1 with --quick). Per kill: failure detection (the observer sees the owner
 *    no longer alive: the baseline, same run), the new owner running, and the
 *    output growing again. Every entry is checked in the output exactly once by
 *    id, nothing pending. Target: the new owner runs within 5 s of detection.
 * 2. `--endless`: `--items N` (default 5 M) no-op items through a deployment,
 *    the owner's RSS and JS heap every `--every N` (default 1 M) beside an idle
 *    member's; target: every million after the first within 10 % of the first
 *    (see deploy-endless.ts).
 */
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Redis } from 'ioredis'
import { GridFixture } from '../integration/helpers/grid-fixture.ts'
import type { GridProcess } from '../integration/helpers/grid-process.ts'
import { startRedis } from '../integration/helpers/redis-server.ts'
import { output, pendingCount } from '../integration/helpers/streams.ts'
import type { GridNode } from '../../src/node.ts'
import { SHEBANG_FLAGS, note, sleep, table } from './lib.ts'
import { GC_TRACE_FLAGS, endlessPart } from './deploy-endless.ts'
import type { Reading } from './deploy-endless.ts'
import { runBench } from './report.ts'
import type { Figure, Row, TargetSpec } from './report.ts'

const DEFINITION = fileURLToPath(new URL('../fixtures/durable/bench-deployment.mjs', import.meta.url))
const BEYOND_DETECTION_MS = 5000

interface Takeover { detectedMs: number, ownerMs: number, resumedMs: number }

async function until<T> (check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

await runBench('deploy', ['--entries', '--kills', '--endless', '--items', '--every'], async (args, defer) => {
  const ENTRIES = args.number('--entries', args.quick ? 10_000 : 30_000)
  const KILLS = args.number('--kills', args.quick ? 1 : 2)
  const ENDLESS = args.has('--endless')
  const ITEMS = args.number('--items', 5_000_000)
  const EVERY = args.number('--every', 1_000_000)
  if (ENDLESS && (EVERY <= 0 || ITEMS < 2 * EVERY)) throw new Error('--endless needs --items of at least two --every windows')
  const redisServer = await startRedis()
  defer(async () => { await redisServer.stop() })
  const url = redisServer.url
  const redis = new Redis(url, { protocol: 2 })
  defer(() => { redis.disconnect() })
  // n1 the agent, n2.. the members that run deployments (one survives every kill), then an idle member
  // (the endless part's baseline), the last the observer
  const grid = await GridFixture.create(KILLS + 5)
  defer(async () => { await grid.close() })
  const agent = await grid.start('n1', ['--agent', '--workers', '4', '--no-deployments'])
  // the members run as `npx grid node` runs them (its shebang's flags), and the endless part reads their full collections
  const traced = [...SHEBANG_FLAGS, ...(ENDLESS ? GC_TRACE_FLAGS : [])]
  const members: GridProcess[] = []
  for (let i = 2; i <= KILLS + 3; i++) members.push(await grid.start(`n${i}`, ['--peer', agent.address], traced))
  const idle = await grid.start(`n${KILLS + 4}`, ['--peer', agent.address, '--no-deployments'], traced)
  const observer: GridNode = await grid.member(`n${KILLS + 5}`, agent, 1, { deployments: { run: false }, logger: pino({ level: 'silent' }) })
  await until(() => [...members, idle].every(m => observer.members().some(x => x.id === m.peerId && x.state === 'alive')) ? true : undefined, 30_000, 'the members')
  const alive = (id: string): boolean => observer.members().some(m => m.id === id && m.state === 'alive')

  // 1. takeover under a steady input
  await observer.deploy('takeover', DEFINITION, { params: { url, in: 'take-in', out: 'take-out' } })
  const status = (name: string): ReturnType<GridNode['deployments']['status']> => observer.deployments.status(name)
  const producer = (async () => {
    for (let from = 0; from < ENTRIES; from += 500) {
      const batch = redis.pipeline()
      for (let i = from; i < Math.min(from + 500, ENTRIES); i++) batch.xadd('take-in', '*', 'v', String(i))
      await batch.exec()
      await sleep(100)
    }
  })()
  const takeovers: Takeover[] = []
  for (let k = 1; k <= KILLS; k++) {
    await until(async () => await redis.xlen('take-out') >= Math.floor(ENTRIES * k / (KILLS + 1)) ? true : undefined, 120_000, 'output before a kill')
      .catch(async (err: Error) => { throw new Error(`${err.message}: ${await redis.xlen('take-out')} written, ${JSON.stringify(status('takeover'))}`) })
    const before = status('takeover')
    const victim = members.find(m => m.peerId === before.owner)
    if (victim == null || before.progress?.state !== 'running') throw new Error(`no running owner among the members: ${JSON.stringify(before)}`)
    await victim.stop('SIGKILL')
    const killedAt = performance.now()
    const detected = until(() => alive(victim.peerId) ? undefined : performance.now() - killedAt, 30_000, 'failure detection')
    const owner = until(() => {
      const s = status('takeover')
      return s.owner != null && s.owner !== victim.peerId && s.progress?.state === 'running' && s.progress.token > before.token! ? performance.now() - killedAt : undefined
    }, 60_000, 'a new owner')
    const written = await redis.xlen('take-out')
    const resumed = until(async () => await redis.xlen('take-out') > written ? performance.now() - killedAt : undefined, 60_000, 'the output to grow again')
    takeovers.push({ detectedMs: Math.round(await detected), ownerMs: Math.round(await owner), resumedMs: Math.round(await resumed) })
    note(`kill ${k}: ${JSON.stringify(takeovers.at(-1))}`)
  }
  await producer
  await until(async () => await redis.xlen('take-out') >= ENTRIES ? true : undefined, 120_000, 'every entry in the output')
  const { counts } = await output(redis, 'take-out')
  const duplicates = [...counts.values()].filter(c => c !== 1).length
  const pending = await until(async () => { const p = await pendingCount(redis, 'take-in', 'bench'); return p === 0 ? p : undefined }, 15_000, 'nothing pending')
  if (counts.size !== ENTRIES || duplicates !== 0) throw new Error(`output: ${counts.size} ids of ${ENTRIES}, ${duplicates} written twice`)
  observer.deployments.stop('takeover')
  const worst = takeovers.reduce((a, b) => b.ownerMs - b.detectedMs > a.ownerMs - a.detectedMs ? b : a)
  process.stdout.write(table(['kill', 'failure detected (ms)', 'new owner running (ms)', 'output resumed (ms)'], takeovers.map((t, i) => [String(i + 1), String(t.detectedMs), String(t.ownerMs), String(t.resumedMs)])))

  const figures: Record<string, Figure> = {
    detectedMs: { value: worst.detectedMs, unit: 'ms', label: 'failure detected (baseline)' },
    takeoverMs: { value: worst.ownerMs, unit: 'ms', label: 'new owner running' },
    beyondDetectionMs: { value: worst.ownerMs - worst.detectedMs, unit: 'ms', label: 'takeover beyond detection' },
    resumedMs: { value: Math.max(...takeovers.map(t => t.resumedMs)), unit: 'ms', label: 'output resumed' }
  }
  const targets: TargetSpec[] = [{ figure: 'beyondDetectionMs', comparator: '<=', bound: BEYOND_DETECTION_MS }]
  const rows: Row[] = [{ what: 'deployment takeover: owner SIGKILLed, another member runs it and claims its pending entries (XAUTOCLAIM); exactly once by id, nothing pending', figures: ['takeoverMs', 'detectedMs', 'beyondDetectionMs', 'resumedMs'], note: `${ENTRIES} entries, ${KILLS} kills, worst; 200 ms heartbeats` }]
  const details: Record<string, unknown> = { entries: ENTRIES, kills: KILLS, takeovers, pending }

  // 2. an endless run: the owner's memory every EVERY items
  if (ENDLESS) {
    const endless = await endlessPart({ observer, members, idle, redis, url, definition: DEFINITION, items: ITEMS, every: EVERY, until })
    Object.assign(figures, endless.figures)
    targets.push(...endless.targets)
    rows.push(...endless.rows)
    details.endless = endless.details
    process.stdout.write(table(['items', 'owner RSS floor / peak (MB)', 'owner JS heap after full GC / committed (MB)', 'idle member RSS floor (MB)', 'idle JS heap (MB)', 's'],
      (endless.details.readings as Reading[]).map(r => [String(r.items), `${r.rssMb} / ${r.rssPeakMb}`, `${r.heapUsedMb ?? '-'} / ${r.heapCommittedMb ?? '-'}`, String(r.idleRssMb), String(r.idleHeapUsedMb ?? '-'), String(r.atS)])))
  }
  return { figures, targets, rows, details }
}, ['--endless'])
