/**
 * `npm run bench:spawn`: time from `workers.spawn()` to the first processed
 * item, on this node (local) and on another agent process (remote), p50/p99
 * over 20 each (10 with --quick); the idle RSS of a fresh `grid node` (from the
 * bundle, as `grid` runs it, and from the sources); the remote agent's RSS
 * after its spawns; and an idle worker's RSS.
 * Targets: remote spawn-to-first-item p50 <= 250 ms; idle node RSS <= 80 MB.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { GridProcess, GRID_BIN } from '../integration/helpers/grid-process.ts'
import { bundle } from '../../scripts/bundle.ts'
import { gridCommand, note, procMemory, sleep, summarize } from './lib.ts'
import { idleNodesMemory } from './idle-memory.ts'
import type { ProcMemory, Summary } from './lib.ts'
import { runBench } from './report.ts'

const STAGE = fileURLToPath(new URL('../fixtures/stages/plain.mjs', import.meta.url))
/** How long a fresh node idles before its RSS is read. */
const IDLE_S = 15
/** Readings of each idle node, 1 s apart, after IDLE_S. */
const IDLE_SAMPLES = 5

let dir = ''

await runBench('spawn', ['--runs', '--idle-nodes'], async (args, defer) => {
  const runs = Math.max(1, Math.round(args.number('--runs', args.quick ? 10 : 20)))
  const idleNames = Array.from({ length: Math.max(1, Math.round(args.number('--idle-nodes', 3))) }, (_, i) => `idle-${i}`)
  dir = await mkdtemp(join(tmpdir(), 'gridd-bench-spawn-'))
  defer(async () => { await rm(dir, { recursive: true, force: true }) })
  // the remote agent and the idle node run what `npx grid` runs: the bundle, rebuilt from these sources
  await bundle()
  await initCertsDir(dir)
  await issueIntoDir(dir, 'remote', { roles: ['member', 'agent'] })
  for (const name of idleNames) await issueIntoDir(dir, name, { roles: ['member', 'agent'] })
  // started the way `npx grid node` runs it: with the flags in bin/grid.js's shebang
  const agentArgs = ['node', '--certs', dir, '--name', 'remote', '--host', '127.0.0.1', '--port', '0', '--agent', '--workers', '4', '--weight', '0.001']
  const agent = new GridProcess([], {}, undefined, gridCommand(GRID_BIN, agentArgs))
  defer(async () => { await agent.stop('SIGKILL') })
  await agent.ready()
  const node = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(dir, 'node'), peers: [agent.address], agent: { workers: 4 }, logger: pino({ level: 'silent' }) })
  defer(async () => { await node.stop() })
  const remoteId = agent.peerId
  while (!node.members().some(m => m.id === remoteId && m.role === 'agent' && m.state === 'alive')) await sleep(50)

  let remoteSpawns = 0
  async function measure (where: 'local' | 'remote'): Promise<Summary> {
    // steer placement with weights: the remote agent runs at 0.001, so this node wins at
    // weight 1 and loses at 0 ("only if nothing else fits")
    node.setWeight(where === 'local' ? 1 : 0)
    const samples: number[] = []
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now()
      const worker = await node.workers.spawn({ stage: 'bench', module: STAGE })
      await worker.process(i)
      samples.push(performance.now() - t0)
      if ((worker.agentId === remoteId) !== (where === 'remote')) throw new Error(`placement put a ${where} spawn on ${worker.agentId}; the remote agent: ${JSON.stringify(node.members().find(m => m.id === remoteId))}`)
      if (where === 'remote') remoteSpawns++
      await worker.kill()
      // wait for the freed slot to be gossiped so placement sees the same state each run
      while (node.workers.list().length > 0) await sleep(5)
    }
    return summarize(samples.map(x => Math.round(x * 10) / 10))
  }

  const localSpawn = await measure('local')
  const remoteSpawn = await measure('remote')
  note('measuring idle RSS')
  const idleWorker = await node.workers.spawn({ stage: 'bench', module: STAGE })
  if (idleWorker.agentId !== remoteId) throw new Error('the idle worker was not placed on the remote agent')
  remoteSpawns++
  await idleWorker.process(1)
  await sleep(5000)
  const workerRss = await procMemory(idleWorker.pid)
  const agentRss = await procMemory(agent.proc.pid)
  await idleWorker.kill()

  // a fresh node that has done nothing but start, as `npx grid node` runs it (the bundle) and from the sources
  note(`measuring ${idleNames.length} fresh idle nodes from the bundle, then from the sources (${IDLE_S} s idle, ${IDLE_SAMPLES} readings each)`)
  const idle = { names: idleNames, certsDir: dir, settleS: IDLE_S, samples: IDLE_SAMPLES }
  const fromBundle = await idleNodesMemory(GRID_BIN, { ...idle, dataRoot: join(dir, 'bundle') })
  const sourceEntry = join(dir, 'grid-from-source.mjs')
  await writeFile(sourceEntry, `import { main } from ${JSON.stringify(pathToFileURL(fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))).href)}\nawait main(process.argv)\n`)
  const fromSource = await idleNodesMemory(sourceEntry, { ...idle, dataRoot: join(dir, 'source') })
  const mb = (m: ProcMemory | null | undefined, label: string): { value: number | null, unit: string, label: string } => ({ value: m?.vmRssMb ?? null, unit: 'MB', label })
  return {
    figures: {
      remoteSpawnP50Ms: { value: remoteSpawn.p50, unit: 'ms', label: 'remote p50' },
      remoteSpawnP99Ms: { value: remoteSpawn.p99, unit: 'ms', label: 'remote p99' },
      localSpawnP50Ms: { value: localSpawn.p50, unit: 'ms', label: 'local p50' },
      localSpawnP99Ms: { value: localSpawn.p99, unit: 'ms', label: 'local p99' },
      idleNodeRssMb: mb(fromBundle.median, `from the bundle, median of ${idleNames.length}`),
      idleNodeAnonMb: { value: fromBundle.median.rssAnonMb, unit: 'MB', label: 'of which anonymous' },
      idleNodeFileMb: { value: fromBundle.median.rssFileMb, unit: 'MB', label: 'of which file-backed' },
      idleNodeHeapUsedMb: { value: fromBundle.median.heapUsedMb, unit: 'MB', label: 'JS heap used after a GC' },
      idleNodeFromSourceRssMb: mb(fromSource.median, 'from the TypeScript sources'),
      agentRssAfterSpawnsMb: mb(agentRss, 'VmRSS'),
      idleWorkerRssMb: mb(workerRss, 'VmRSS')
    },
    targets: [
      { figure: 'remoteSpawnP50Ms', comparator: '<=', bound: 250 },
      { figure: 'idleNodeRssMb', comparator: '<=', bound: 80 }
    ],
    rows: [
      { what: 'spawn → first item, on a remote agent process (bundle) and on this node', figures: ['remoteSpawnP50Ms', 'remoteSpawnP99Ms', 'localSpawnP50Ms', 'localSpawnP99Ms'], note: `${runs} spawns each; this node runs from the sources, so its worker host loads the type stripper` },
      { what: `idle RSS of a fresh \`grid node\` (${IDLE_S} s idle, shebang flags)`, figures: ['idleNodeRssMb', 'idleNodeAnonMb', 'idleNodeFileMb', 'idleNodeHeapUsedMb', 'idleNodeFromSourceRssMb'], note: `median of ${idleNames.length} nodes, each the median of ${IDLE_SAMPLES} readings 1 s apart; file-backed is mostly the node binary's pages V8 ran (TurboFan started or not at startup moves it ~5 MB), so growth shows in anonymous and the heap` },
      { what: `agent RSS after hosting ${remoteSpawns} spawns (one worker still idle on it)`, figures: ['agentRssAfterSpawnsMb'] },
      { what: 'idle worker RSS (bundled worker host, on the remote agent)', figures: ['idleWorkerRssMb'] }
    ],
    details: { runs, local: localSpawn.samples, remote: remoteSpawn.samples, idleNodeFromBundle: fromBundle, idleNodeFromSource: fromSource, agentAfterSpawns: agentRss, idleWorker: workerRss }
  }
})
