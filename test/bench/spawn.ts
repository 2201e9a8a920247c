/**
 * `npm run bench:spawn`: time from `workers.spawn()` to the first processed
 * item, on this node (local) and on another agent process (remote), p50/p99
 * over 20 each; and the idle RSS of a node process and of a worker process.
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
import { note, procMemory, sleep, summarize, table } from './lib.ts'
import type { ProcMemory, Summary } from './lib.ts'

const RUNS = Number(process.argv.find(a => a.startsWith('--runs='))?.slice(7) ?? 20)
const STAGE = fileURLToPath(new URL('../fixtures/stages/plain.mjs', import.meta.url))

const dir = await mkdtemp(join(tmpdir(), 'gridd-bench-spawn-'))
let agent: GridProcess | undefined
let local: GridNode | undefined
const cleanup = async (): Promise<void> => {
  await local?.stop().catch(() => {})
  await agent?.stop('SIGKILL').catch(() => {})
  await rm(dir, { recursive: true, force: true })
}
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })

try {
  // the remote agent and the idle node run what `npx grid` runs: the bundle, rebuilt from these sources
  await bundle()
  await initCertsDir(dir)
  await issueIntoDir(dir, 'remote')
  await issueIntoDir(dir, 'idle')
  // started the way `npx grid node` runs it: with the flags in bin/grid.js's shebang
  const args = ['node', '--certs', dir, '--name', 'remote', '--host', '127.0.0.1', '--port', '0', '--agent', '--workers', '4', '--weight', '0.001']
  agent = await new GridProcess([], {}, undefined, [process.execPath, '--max-semi-space-size=1', GRID_BIN, ...args]).ready()
  local = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(dir, 'node'), peers: [agent.address], agent: { workers: 4 }, logger: pino({ level: 'silent' }) })
  const node = local
  const remoteId = agent.peerId
  while (!node.members().some(m => m.id === remoteId && m.role === 'agent' && m.state === 'alive')) await sleep(50)

  async function measure (where: 'local' | 'remote'): Promise<Summary> {
    // steer placement with weights: the remote agent runs at 0.001, so this node wins at
    // weight 1 and loses at 0 ("only if nothing else fits")
    node.setWeight(where === 'local' ? 1 : 0)
    const samples: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now()
      const worker = await node.workers.spawn({ stage: 'bench', module: STAGE })
      await worker.process(i)
      samples.push(performance.now() - t0)
      if ((worker.agentId === remoteId) !== (where === 'remote')) throw new Error(`placement put a ${where} spawn on ${worker.agentId}; the remote agent: ${JSON.stringify(node.members().find(m => m.id === remoteId))}`)
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
  await idleWorker.process(1)
  await sleep(5000)
  const workerRss = await procMemory(idleWorker.pid)
  const nodeRss = await procMemory(agent.proc.pid)
  await idleWorker.kill()

  // a fresh node that has done nothing but start, as `npx grid node` runs it (the bundle) and from the sources
  note('measuring a fresh idle node from the bundle and from the sources (15 s idle each)')
  const idleFromBundle = await idleNodeMemory(GRID_BIN)
  const sourceEntry = join(dir, 'grid-from-source.mjs')
  await writeFile(sourceEntry, `import { main } from ${JSON.stringify(pathToFileURL(fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))).href)}\nawait main(process.argv)\n`)
  const idleFromSource = await idleNodeMemory(sourceEntry)

  const result = {
    runs: RUNS,
    localSpawnToFirstItemMs: { p50: localSpawn.p50, p99: localSpawn.p99, max: localSpawn.max },
    remoteSpawnToFirstItemMs: { p50: remoteSpawn.p50, p99: remoteSpawn.p99, max: remoteSpawn.max },
    idleNodeRssMb: idleFromBundle?.vmRssMb ?? null,
    idleNodeFromBundle: idleFromBundle,
    idleNodeFromSource: idleFromSource,
    agentAfterSpawnsRssMb: nodeRss?.vmRssMb ?? null,
    idleWorkerRssMb: workerRss?.vmRssMb ?? null,
    targets: { remoteSpawnP50Ms: 250, idleNodeRssMb: 80 }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
  const ok = (v: number | null, limit: number): string => v != null && v <= limit ? 'pass' : 'FAIL'
  process.stdout.write(table(['what', 'p50', 'p99', 'target', ''], [
    ['spawn -> first item, local', String(localSpawn.p50), String(localSpawn.p99), '', ''],
    ['spawn -> first item, remote', String(remoteSpawn.p50), String(remoteSpawn.p99), 'p50 <= 250 ms', ok(remoteSpawn.p50, 250)],
    ['idle node RSS, `grid node` (MB)', `${result.idleNodeRssMb} (anon ${idleFromBundle?.rssAnonMb}, file ${idleFromBundle?.rssFileMb})`, '', '<= 80', ok(result.idleNodeRssMb, 80)],
    ['idle node RSS, from source (MB)', `${idleFromSource?.vmRssMb} (anon ${idleFromSource?.rssAnonMb}, file ${idleFromSource?.rssFileMb})`, '', '', ''],
    ['agent RSS after 40 spawns (MB)', String(result.agentAfterSpawnsRssMb), '', '', ''],
    ['idle worker RSS, on the remote agent (MB)', String(result.idleWorkerRssMb), '', '', '']
  ]))
} finally {
  await cleanup()
}

/** VmRSS of `grid node` started from `entry` with the shebang's flags, after 15 s of idling in a one-node grid. */
async function idleNodeMemory (entry: string): Promise<ProcMemory | null> {
  const args = ['node', '--certs', dir, '--name', 'idle', '--host', '127.0.0.1', '--port', '0']
  const idle = await new GridProcess([], {}, undefined, [process.execPath, '--max-semi-space-size=1', entry, ...args]).ready()
  try {
    await sleep(15_000)
    return await procMemory(idle.proc.pid)
  } finally {
    await idle.stop('SIGKILL')
  }
}
