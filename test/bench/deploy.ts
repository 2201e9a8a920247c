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
 * 2. `--endless N` (default 0: skipped; 5000000 for the memory check): N no-op
 *    items through the deployment; the owner's RSS (lowest sampled every 250 ms
 *    in each window: the floor after its GCs) every `--every N` (default 1 M)
 *    after a warm-up of `--warmup N` (default one `--every`: the heap grows to its
 *    working size over the first few hundred thousand items),
 *    beside an idle member's (the baseline: same code, same gossip, no run).
 *    Target: the owner's growth beyond the idle member's within 10 % of its first.
 */
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Redis } from 'ioredis'
import { GridFixture } from '../integration/helpers/grid-fixture.ts'
import type { GridProcess } from '../integration/helpers/grid-process.ts'
import { startRedis } from '../integration/helpers/redis-server.ts'
import { output, pendingCount } from '../integration/helpers/streams.ts'
import type { GridNode } from '../../src/node.ts'
import { note, procMemory, round, sleep, table } from './lib.ts'
import { runBench } from './report.ts'
import type { Figure, TargetSpec } from './report.ts'

const DEFINITION = fileURLToPath(new URL('../fixtures/durable/bench-deployment.mjs', import.meta.url))
const BEYOND_DETECTION_MS = 5000
const RSS_LIMIT = 1.10

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

await runBench('deploy', ['--entries', '--kills', '--endless', '--every', '--warmup'], async (args, defer) => {
  const ENTRIES = args.number('--entries', args.quick ? 10_000 : 30_000)
  const KILLS = args.number('--kills', args.quick ? 1 : 2)
  const ENDLESS = args.number('--endless', 0)
  const EVERY = args.number('--every', 1_000_000)
  const WARMUP = args.number('--warmup', EVERY)
  const redisServer = await startRedis()
  defer(async () => { await redisServer.stop() })
  const url = redisServer.url
  const redis = new Redis(url, { protocol: 2 })
  defer(() => { redis.disconnect() })
  // n1 the agent, n2.. the members that run deployments (one survives every kill), the last the observer
  const grid = await GridFixture.create(KILLS + 4)
  defer(async () => { await grid.close() })
  const agent = await grid.start('n1', ['--agent', '--workers', '4', '--no-deployments'])
  const members: GridProcess[] = []
  for (let i = 2; i <= KILLS + 3; i++) members.push(await grid.start(`n${i}`, ['--peer', agent.address]))
  const observer: GridNode = await grid.member(`n${KILLS + 4}`, agent, 1, { deployments: { run: false }, logger: pino({ level: 'silent' }) })
  await until(() => members.every(m => observer.members().some(x => x.id === m.peerId && x.state === 'alive')) ? true : undefined, 30_000, 'the members')
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
  const rows = [{ what: 'deployment takeover: owner SIGKILLed, another member runs it and claims its pending entries (XAUTOCLAIM); exactly once by id, nothing pending', figures: ['takeoverMs', 'detectedMs', 'beyondDetectionMs', 'resumedMs'], note: `${ENTRIES} entries, ${KILLS} kills, worst; 200 ms heartbeats` }]
  const details: Record<string, unknown> = { entries: ENTRIES, kills: KILLS, takeovers, pending }

  // 2. an endless run: the owner's RSS floor every EVERY items
  if (ENDLESS > 0) {
    await observer.deploy('endless', DEFINITION, { params: { url, in: 'endless-in', out: 'endless-out', maxLen: 200_000, dedupeTtlS: 30 } })
    const ownerId = await until(() => status('endless').progress?.state === 'running' ? status('endless').owner : undefined, 60_000, 'the endless owner')
    const pid = members.find(m => m.peerId === ownerId)!.proc.pid
    const idlePid = members.find(m => m.peerId !== ownerId && m.proc.exitCode == null && m.proc.signalCode == null)!.proc.pid
    const groupField = async (name: string): Promise<number> => {
      // the owner's source makes the stream and its group as it starts: until then, nothing is done
      const groups = await redis.call('XINFO', 'GROUPS', 'endless-in').catch(() => []) as unknown[][]
      const fields = groups[0] ?? []
      return Number(fields[fields.indexOf(name) + 1] ?? 0)
    }
    const done = async (): Promise<number> => await groupField('entries-read') - await groupField('pending')
    let produced = 0
    let producing = true
    const feeding = (async () => {
      while (producing) {
        if (produced - await done() < 50_000) {
          const batch = redis.pipeline()
          for (let i = 0; i < 10_000; i++) batch.xadd('endless-in', 'MAXLEN', '~', 200_000, '*', 'v', String(produced + i))
          await batch.exec()
          produced += 10_000
        } else {
          await sleep(20)
        }
      }
    })()
    defer(async () => { producing = false; await feeding })
    const readings: Array<{ items: number, rssMb: number, idleRssMb: number, atS: number }> = []
    const t0 = performance.now()
    let floor = Infinity
    let idleFloor = Infinity
    for (let mark = WARMUP + EVERY; mark <= WARMUP + ENDLESS;) {
      floor = Math.min(floor, (await procMemory(pid))?.vmRssMb ?? Infinity)
      idleFloor = Math.min(idleFloor, (await procMemory(idlePid))?.vmRssMb ?? Infinity)
      if (await done() >= mark) {
        readings.push({ items: mark - WARMUP, rssMb: round(floor, 1), idleRssMb: round(idleFloor, 1), atS: round((performance.now() - t0) / 1000, 1) })
        note(`${mark} items: ${JSON.stringify(readings.at(-1))}`)
        floor = idleFloor = Infinity
        mark += EVERY
      }
      await sleep(250)
    }
    producing = false
    await feeding
    const itemsPerS = Math.round((WARMUP + ENDLESS) / ((performance.now() - t0) / 1000))
    process.stdout.write(table(['items', 'owner RSS floor (MB)', 'idle member RSS floor (MB)', 's'], readings.map(r => [String(r.items), String(r.rssMb), String(r.idleRssMb), String(r.atS)])))
    const first = readings[0]!
    const last = readings.at(-1)!
    figures.rssRatio = { value: round(last.rssMb / first.rssMb, 3), unit: '×', label: `owner RSS after ${last.items} / after ${first.items}` }
    figures.beyondIdleRatio = { value: round((first.rssMb + (last.rssMb - first.rssMb) - (last.idleRssMb - first.idleRssMb)) / first.rssMb, 3), unit: '×', label: 'owner growth beyond the idle member\'s' }
    figures.rssFirstMb = { value: first.rssMb, unit: 'MB', label: `RSS after ${first.items}` }
    figures.rssLastMb = { value: last.rssMb, unit: 'MB', label: `RSS after ${last.items}` }
    figures.endlessItemsPerS = { value: itemsPerS, unit: 'items/s', label: 'deployed, endless' }
    targets.push({ figure: 'beyondIdleRatio', comparator: '<=', bound: RSS_LIMIT })
    rows.push({ what: 'deployed pipeline owner RSS (another process, lowest reading of each window) beside an idle member\'s, endless Redis stream through a no-op stage', figures: ['beyondIdleRatio', 'rssRatio', 'rssFirstMb', 'rssLastMb', 'endlessItemsPerS'], note: `${ENDLESS} items after a ${WARMUP}-item warm-up` })
    details.readings = readings
    details.warmup = WARMUP
    observer.deployments.stop('endless')
  }
  return { figures, targets, rows, details }
})
