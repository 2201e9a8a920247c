import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { initCertsDir, issueIntoDir } from '../../src/certs/files.ts'
import { startNode } from '../integration/helpers/grid-process.ts'
import { sleep } from './lib.ts'
import type { Defer } from './report.ts'

/**
 * The owner benches' grid: a throwaway CA, one agent process with 2 worker
 * slots, and an owner GridNode in this process (whose memory a bench reads)
 * joined to it; returned once the agent is alive. `defer` stops both and
 * removes the certificates.
 */
export async function ownerWithAgent (bench: string, defer: Defer): Promise<GridNode> {
  const dir = await mkdtemp(join(tmpdir(), `gridd-bench-${bench}-`))
  defer(async () => { await rm(dir, { recursive: true, force: true }) })
  await initCertsDir(dir)
  for (const name of ['agent', 'owner']) await issueIntoDir(dir, name, { roles: ['member', 'agent'] })
  const agent = await startNode(['--certs', dir, '--name', 'agent', '--agent', '--workers', '2'])
  defer(async () => { await agent.stop('SIGKILL') })
  const owner = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(dir, 'owner'), peers: [agent.address], logger: pino({ level: 'silent' }) })
  defer(async () => { await owner.stop() })
  while (!owner.members().some(m => m.role === 'agent' && m.state === 'alive')) await sleep(50)
  return owner
}
