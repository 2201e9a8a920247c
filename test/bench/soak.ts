/**
 * `npm run bench:soak [-- --minutes N]` (default 15, `--quick` 3): does a long-lived node's memory
 * stay bounded? Three `grid node` agents (real processes, the bundle as `grid`
 * runs it) and this process's embedded GridNode under a steady, modest mixed
 * load (soak-load.ts) for N minutes, while the third agent is SIGKILLed and
 * restarted with the same key, data dir and port every `--churn-seconds` (60),
 * and every `--fresh-every` (4) th time stopped and replaced by a fresh identity.
 * Every `--sample-seconds` (5) each process's JS heap used after a full GC (the
 * probe add-on, soak-probe.ts), with and without V8's code spaces, and VmRSS
 * (/proc) are read; after `--warmup-minutes` (a third of the run, at most 5) the
 * least-squares slope in MB per minute of each long-lived process (the two
 * stable agents and this process) is the figure. Fails (unless `--report-only`)
 * when the slope of a heap's objects (code spaces excluded) exceeds
 * OBJECTS_SLOPE_MB_PER_MIN. `--snapshot-dir D` keeps two heap snapshots of
 * each long-lived process (at the warm-up's end and at the end) for
 * `node test/bench/heap-compare.ts A B`.
 */
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { pino } from 'pino'
import { bundle } from '../../scripts/bundle.ts'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { issueIntoDir } from '../../src/certs/files.ts'
import { note, procMemory, round, sleep, table } from './lib.ts'
import { runBench } from './report.ts'
import { SoakGrid } from './soak-grid.ts'
import type { SoakNode } from './soak-grid.ts'
import { DEFAULT_RATES, SoakLoad } from './soak-load.ts'
import { readMemory } from './soak-probe.ts'
import type { MemoryReading } from './soak-probe.ts'
import { childPids, cpuSeconds, loadAverage } from './proc-stats.ts'
import { readFile } from 'node:fs/promises'
import { slope } from './soak-stats.ts'

/**
 * Bound on the slope of each long-lived process's heap objects (after a full GC, V8's code
 * spaces excluded) after the warm-up. Bounded
 * processes measured well under it (see the README); a leak of one small object per task
 * or item at this load (~10 per second) is several MB a minute.
 */
const OBJECTS_SLOPE_MB_PER_MIN = 0.25

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** `objectsMb`: the heap used after a full GC less V8's code spaces (compiled code grows for a while as more of the program gets hot; objects are what leaks). */
interface Sample { who: string, atMin: number, heapUsedMb: number, objectsMb: number, rssMb: number, externalMb: number }

await runBench('soak', ['--minutes', '--warmup-minutes', '--sample-seconds', '--churn-seconds', '--fresh-every', '--snapshot-dir'], async (args, defer) => {
  const minutes = args.number('--minutes', args.quick ? 3 : 15)
  const warmupMin = args.number('--warmup-minutes', Math.min(5, minutes / 3))
  const sampleMs = args.number('--sample-seconds', 5) * 1000
  const churnMs = args.number('--churn-seconds', 60) * 1000
  const freshEvery = Math.max(1, args.number('--fresh-every', 4))
  const snapshotDir = args.text('--snapshot-dir')
  if (snapshotDir != null) mkdirSync(snapshotDir, { recursive: true })

  // the daemons run what `grid` runs: the bundle, rebuilt from these sources
  await bundle()
  const dir = await mkdtemp(join(tmpdir(), 'gridd-bench-soak-'))
  defer(async () => { await rm(dir, { recursive: true, force: true }) })
  const grid = new SoakGrid(dir)
  defer(async () => { await grid.close() })
  process.on('exit', () => { grid.cluster.killAllSync() })
  await grid.init()

  const a = await grid.start(await grid.identity('a'), [], true)
  const b = await grid.start(await grid.identity('b'), [a.proc.address])
  let c = await grid.start(await grid.identity('c'), [a.proc.address, b.proc.address])
  await issueIntoDir(grid.certs, 'driver', { roles: ['member'] })
  const driver = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.certs, 'driver'), peers: [a.proc.address, b.proc.address], dataDir: join(dir, 'data', 'driver'), logger: pino({ level: 'silent' }), tasks: { resultTtlMs: 60_000 } })
  defer(async () => { await driver.stop() })
  while (driver.members().filter(m => m.role === 'agent' && m.state === 'alive').length < 3) await sleep(100)
  note(`grid up: a ${a.proc.proc.pid}, b ${b.proc.proc.pid}, c ${c.proc.proc.pid}; load for ${minutes} min, warm-up ${round(warmupMin)} min`)

  const load = new SoakLoad(driver, () => [a, b, c].filter(SoakGrid.running), a, DEFAULT_RATES, grid.jwtSecretFile)
  defer(async () => { await load.stop() })
  await load.start()

  const samples: Sample[] = []
  const logErrors = new Map<string, number>()
  const restarts = { sameKey: 0, fresh: 0, failed: 0 }
  const snapshots: string[] = []
  const t0 = Date.now()
  const cpu0 = await Promise.all([a, b].map(async n => await cpuSeconds(n.proc.proc.pid)))
  const atMin = (): number => (Date.now() - t0) / 60_000
  let nextChurn = t0 + churnMs
  let warmSnapshotTaken = false
  let ticks = 0

  async function read (who: string, node: SoakNode): Promise<void> {
    try {
      const res = await fetch(node.probeUrl, { signal: AbortSignal.timeout(10_000) })
      const m = await res.json() as MemoryReading
      const proc = await procMemory(node.proc.proc.pid)
      samples.push({ who, atMin: atMin(), heapUsedMb: m.heapUsedMb, objectsMb: round(m.heapUsedMb - m.codeMb), rssMb: proc?.vmRssMb ?? m.rssMb, externalMb: m.externalMb })
    } catch {
      // the churned node may be down between a kill and its restart
    }
  }

  /** The RSS of each worker process of the stable agents (no heap: they run no probe), as `worker <pid> <what it runs>`. */
  async function readWorkers (): Promise<void> {
    for (const node of [a, b]) {
      for (const pid of await childPids(node.proc.proc.pid)) {
        const [proc, cmdline] = await Promise.all([procMemory(pid), readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')])
        // a pre-started host keeps "(pre-started)" in its command line after it takes a stage
        const argv = cmdline.split('\0').filter(Boolean)
        const what = argv.length > 3 ? argv.slice(3).join(' ') : (argv[0] ?? '').split('/').at(-1)
        if (proc != null) samples.push({ who: `worker ${pid} ${what}`, atMin: atMin(), heapUsedMb: NaN, objectsMb: NaN, rssMb: proc.vmRssMb, externalMb: NaN })
      }
    }
  }

  /** SIGUSR2 makes each `grid node` write a snapshot into its data dir (its working directory); moved to `snapshotDir`. */
  async function snapshot (tag: string): Promise<void> {
    if (snapshotDir == null) return
    for (const [who, node] of [['a', a], ['b', b]] as const) {
      const before = new Set(await readdir(node.identity.dataDir))
      node.proc.proc.kill('SIGUSR2')
      for (let i = 0; i < 600; i++) {
        const made = (await readdir(node.identity.dataDir)).find(f => f.endsWith('.heapsnapshot') && !before.has(f))
        if (made != null) {
          await sleep(2000) // written in one go; the name appears when it starts
          await rename(join(node.identity.dataDir, made), join(snapshotDir, `${who}-${tag}.heapsnapshot`))
          break
        }
        await sleep(200)
      }
    }
    gc()
    writeHeapSnapshot(join(snapshotDir, `driver-${tag}.heapsnapshot`))
    snapshots.push(tag)
    note(`heap snapshots "${tag}" written to ${snapshotDir}`)
  }

  async function churn (): Promise<void> {
    const n = restarts.sameKey + restarts.fresh + 1
    try {
      if (n % freshEvery === 0) {
        // a fresh identity: the old one leaves (SIGTERM), a new key, data dir and port join
        await c.proc.stop('SIGTERM')
        c = await grid.start(await grid.identity('c'), [a.proc.address, b.proc.address])
        restarts.fresh++
      } else {
        await c.proc.stop('SIGKILL')
        await sleep(1000)
        c = await grid.start(c.identity, [a.proc.address, b.proc.address])
        restarts.sameKey++
      }
      note(`c restarted (${restarts.sameKey} same key, ${restarts.fresh} fresh): pid ${c.proc.proc.pid}`)
    } catch (err) {
      restarts.failed++
      note(`c restart failed: ${(err as Error).message.slice(0, 300)}`)
    }
  }

  while (Date.now() - t0 < minutes * 60_000) {
    const tick = Date.now()
    const tickStart = samples.length
    await Promise.all([read('a', a), read('b', b), read(`c:${c.identity.certName}`, c), readWorkers()])
    const mem = readMemory()
    samples.push({ who: 'driver', atMin: atMin(), heapUsedMb: mem.heapUsedMb, objectsMb: round(mem.heapUsedMb - mem.codeMb), rssMb: mem.rssMb, externalMb: mem.externalMb })
    for (const node of [a, b, c]) SoakGrid.drainLog(node, logErrors)
    if (!warmSnapshotTaken && atMin() >= warmupMin) { warmSnapshotTaken = true; await snapshot('warm') }
    if (Date.now() >= nextChurn) { nextChurn += churnMs; await churn() }
    if (++ticks % 12 === 0) note(`${round(atMin(), 1)} min (objects, heap, RSS MB): ${JSON.stringify(samples.slice(tickStart).filter(s => !s.who.startsWith('worker')).map(s => [s.who, s.objectsMb, s.heapUsedMb, s.rssMb]))} load ${JSON.stringify(load.counts)}`)
    await sleep(sampleMs - (Date.now() - tick))
  }
  await snapshot('end')
  const cpu1 = await Promise.all([a, b].map(async n => await cpuSeconds(n.proc.proc.pid)))
  const loadAvg = await loadAverage()
  await load.stop()
  if (!SoakGrid.running(a) || !SoakGrid.running(b)) throw new Error('a long-lived node exited during the soak')

  const figures: Record<string, { value: number | null, unit: string, label: string }> = {}
  const rows: string[][] = []
  for (const who of ['a', 'b', 'driver']) {
    const after = samples.filter(s => s.who === who && s.atMin >= warmupMin)
    const fit = (of: (s: Sample) => number): number | null => { const m = slope(after.map(s => [s.atMin, of(s)])); return m == null ? null : round(m, 3) }
    figures[`${who}ObjectsSlope`] = { value: fit(s => s.objectsMb), unit: 'MB/min', label: `${who} heap objects` }
    figures[`${who}HeapSlope`] = { value: fit(s => s.heapUsedMb), unit: 'MB/min', label: `${who} heap with code` }
    figures[`${who}RssSlope`] = { value: fit(s => s.rssMb), unit: 'MB/min', label: `${who} RSS` }
    const first = after[0]
    const last = after.at(-1)
    rows.push([who, String(after.length), `${first?.objectsMb} → ${last?.objectsMb}`, String(figures[`${who}ObjectsSlope`]!.value), `${first?.heapUsedMb} → ${last?.heapUsedMb}`, String(figures[`${who}HeapSlope`]!.value), `${first?.rssMb} → ${last?.rssMb}`, String(figures[`${who}RssSlope`]!.value)])
  }
  // workers that lived through the whole measured window (a pool may retire one and start another)
  const measured = samples.filter(s => s.atMin >= warmupMin)
  const stableWorkers = [...new Set(measured.filter(s => s.who.startsWith('worker ')).map(s => s.who))]
    .map(who => measured.filter(s => s.who === who)).filter(series => series.length >= 0.9 * measured.filter(s => s.who === 'a').length)
  for (const series of stableWorkers) {
    const m = slope(series.map(s => [s.atMin, s.rssMb]))
    rows.push([series[0]!.who, String(series.length), '', '', '', '', `${series[0]!.rssMb} → ${series.at(-1)!.rssMb}`, m == null ? '' : String(round(m, 3))])
  }
  const workerSlopes = stableWorkers.map(series => slope(series.map(s => [s.atMin, s.rssMb]))).filter((m): m is number => m != null)
  figures.workerRssSlopeMax = { value: workerSlopes.length === 0 ? null : round(Math.max(...workerSlopes), 3), unit: 'MB/min', label: `highest RSS slope of the ${workerSlopes.length} workers alive throughout` }
  process.stdout.write(table(['process', 'samples', 'heap objects (MB)', 'MB/min', 'heap with code (MB)', 'MB/min', 'RSS (MB)', 'MB/min'], rows))
  const cpuPct = cpu0.map((c0, i) => c0 == null || cpu1[i] == null ? null : round((cpu1[i]! - c0) / (minutes * 60) * 100, 1))
  note(`load: ${JSON.stringify(load.counts)}; restarts ${JSON.stringify(restarts)}; agent CPU % a/b ${cpuPct.join('/')}; load average ${loadAvg}; error log lines ${JSON.stringify(Object.fromEntries(logErrors))}`)
  for (const [kind, messages] of Object.entries(load.failures)) note(`  ${kind}, the first ${messages.length}: ${messages.join(' | ')}`)
  return {
    figures,
    targets: ['a', 'b', 'driver'].map(who => ({ figure: `${who}ObjectsSlope`, comparator: '<=' as const, bound: OBJECTS_SLOPE_MB_PER_MIN })),
    rows: [{ what: `heap after GC and RSS slopes of long-lived processes under mixed load and churn (${minutes} min)`, figures: Object.keys(figures), note: `after a ${round(warmupMin, 1)}-minute warm-up` }],
    details: { minutes, warmupMin, sampleMs, churnMs, freshEvery, rates: DEFAULT_RATES, counts: load.counts, failures: load.failures, restarts, cpuPct, loadAvg, logErrors: Object.fromEntries(logErrors), snapshots, samples }
  }
})
