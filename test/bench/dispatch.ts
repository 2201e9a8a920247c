/**
 * `npm run bench:dispatch`: items/s through a remote no-op stage (owner here,
 * agent and worker in other processes) vs raw libp2p length-prefixed echo on
 * one stream to another process, measured in this run: the pipeline with its
 * defaults, then with its window pinned to the echo's (16 and 256).
 * Prints the ratios (target >= 1.0, thanks to batching).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { GridNode } from '../../src/node.ts'
import { createGridLibp2p } from '../../src/transport/libp2p.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { startNode } from '../integration/helpers/grid-process.ts'
import type { GridProcess } from '../integration/helpers/grid-process.ts'
import { note, sleep, table } from './lib.ts'

const ITEMS = Number(process.argv.find(a => a.startsWith('--items='))?.slice(8) ?? 300_000)
/**
 * The echo keeps `echoWindow` messages in flight. The pipeline runs with its
 * defaults (window 16, grown by the equalizer for cheap items up to 1024),
 * then pinned to the echo's window (maxWindow = window) for a like-for-like row.
 */
const CASES = [
  { label: 'pipeline defaults (16, adaptive) vs echo 16', echoWindow: 16, window: 16, maxWindow: undefined },
  { label: 'both pinned at 16', echoWindow: 16, window: 16, maxWindow: 16 },
  { label: 'both pinned at 256', echoWindow: 256, window: 256, maxWindow: 256 }
]
const dir = await mkdtemp(join(tmpdir(), 'gridd-bench-dispatch-'))
await initCertsDir(dir)
for (const name of ['agent', 'echo', 'owner', 'probe']) await issueIntoDir(dir, name)
const echoProc = spawn(process.execPath, [fileURLToPath(new URL('./echo-server.ts', import.meta.url)), dir, 'echo'], { stdio: ['ignore', 'pipe', 'inherit'] })
let agent: GridProcess | undefined
let owner: GridNode | undefined
const client = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(dir, 'probe'), log: pino({ level: 'silent' }) })
try {
  const [line] = await once(echoProc.stdout!, 'data') as [Buffer]
  const echoAddr = multiaddr(line.toString().trim())
  note(`echo peer at ${echoAddr.toString()}`)

  async function echoRate (WINDOW: number): Promise<number> {
    const lp = lpStream(await client.dialProtocol(echoAddr, '/bench/echo/1.0.0'))
    const encoder = new TextEncoder()
    const t0 = performance.now()
    let sent = 0
    let received = 0
    const reader = (async () => { while (received < ITEMS) { await lp.read(); received++ } })()
    while (sent < ITEMS) {
      while (sent - received >= WINDOW) await new Promise(resolve => setImmediate(resolve))
      await lp.write(encoder.encode(JSON.stringify({ n: sent++ })))
    }
    await reader
    return ITEMS / ((performance.now() - t0) / 1000)
  }

  async function pipelineRate (window: number, maxWindow: number | undefined): Promise<number> {
    const run = owner!.pipeline('dispatch', {
      source: Array.from({ length: ITEMS }, (_, n) => ({ n })),
      // one worker (min = max): the equalizer only measures, and sizes the window
      stages: [{ name: 'noop', module: fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url)), minWorkers: 1, maxWorkers: 1 }],
      sink: () => {},
      window,
      maxWindow
    })
    const t0 = performance.now()
    const summary = await run.done
    if (summary.out !== ITEMS) throw new Error(`lost items: ${JSON.stringify(summary)}`)
    return ITEMS / ((performance.now() - t0) / 1000)
  }

  agent = await startNode(['--certs', dir, '--name', 'agent', '--agent', '--workers', '2'])
  owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(dir, 'owner'), peers: [agent.address], logger: pino({ level: 'silent' }) })
  note('owner started, waiting for the agent')
  while (!owner.members().some(m => m.role === 'agent' && m.state === 'alive')) await sleep(50)
  note('agent alive')
  const median = (xs: number[]): number => Math.round([...xs].sort((a, b) => a - b)[1]!)
  const results = []
  for (const c of CASES) {
    const echo: number[] = []
    const pipe: number[] = []
    for (let i = 0; i < 3; i++) {
      echo.push(await echoRate(c.echoWindow))
      note(`${c.label}: echo run ${i + 1}: ${Math.round(echo.at(-1)!)} msgs/s`)
      pipe.push(await pipelineRate(c.window, c.maxWindow))
      note(`${c.label}: pipeline run ${i + 1}: ${Math.round(pipe.at(-1)!)} items/s`)
    }
    results.push({ case: c.label, items: ITEMS, rawEchoMsgsPerS: median(echo), remoteNoopItemsPerS: median(pipe), ratio: Math.round(median(pipe) / median(echo) * 100) / 100, target: 1.0 })
  }
  process.stdout.write(`${JSON.stringify(results)}\n`)
  process.stdout.write(table(['case', 'raw LP echo, one stream (msgs/s)', 'remote no-op stage (items/s)', 'ratio (medians of 3)'],
    results.map(r => [r.case, String(r.rawEchoMsgsPerS), String(r.remoteNoopItemsPerS), `${r.ratio} (target >= 1.0: ${r.ratio >= 1 ? 'pass' : 'FAIL'})`])))
} finally {
  await owner?.stop()
  await client.stop()
  await agent?.stop('SIGKILL')
  echoProc.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
}
