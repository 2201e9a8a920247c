import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WorkerRecords } from '../../../src/agent/worker-records.ts'
import { resolveLogger } from '../../../src/logger.ts'

const log = resolveLogger()
const KEEP_ALIVE = 'setInterval(() => {}, 60_000)'

/** A long-running node process whose command line looks like `argv` after `-e <keep-alive>`. */
async function startProcess (argv: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', KEEP_ALIVE, ...argv], { stdio: 'ignore' })
  await once(child, 'spawn')
  return child
}

async function deadPid (): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return child.pid!
}

describe('WorkerRecords: an agent restarted after SIGKILL reaps the workers it left (issue 14, item 5)', () => {
  let dataDir: string
  const children: ChildProcess[] = []

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gridd-records-'))
    await mkdir(join(dataDir, 'workers'))
  })

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
    await rm(dataDir, { recursive: true, force: true })
  })

  const record = async (id: string, pid: number, agentPid: number): Promise<void> => {
    await writeFile(join(dataDir, 'workers', `${id}.json`), JSON.stringify({ id, pid, agentPid }))
  }

  it('kills a left-over worker host of a dead agent, but not a reused pid nor the worker of a live agent', async () => {
    const leftover = await startProcess(['/x/worker-host.js', 'w-000000000001', 'stage'])
    const reusedPid = await startProcess(['/x/something-else.js', 'w-000000000002'])
    const liveAgent = await startProcess(['/x/grid.js'])
    const liveAgentsWorker = await startProcess(['/x/worker-host.js', 'w-000000000003', 'stage'])
    children.push(leftover, reusedPid, liveAgent, liveAgentsWorker)
    const gone = await deadPid()
    await record('w-000000000001', leftover.pid!, gone)
    await record('w-000000000002', reusedPid.pid!, gone)
    await record('w-000000000003', liveAgentsWorker.pid!, liveAgent.pid!)
    await writeFile(join(dataDir, 'workers', 'w-garbage.json'), '{not json')

    const exited = once(leftover, 'exit')
    const killed = await new WorkerRecords(dataDir, log).reapLeftovers()
    expect(killed).toEqual([leftover.pid])
    await exited
    expect(reusedPid.exitCode).toBeNull()
    expect(liveAgentsWorker.exitCode).toBeNull()
    // the dead agent's records (and the garbage) are gone; the live agent's stays
    expect(await readdir(join(dataDir, 'workers'))).toEqual(['w-000000000003.json'])
  })

  it('records a worker while it runs and forgets it when it exits', async () => {
    const records = new WorkerRecords(dataDir, log)
    records.add('w-0000000000aa', 12345)
    records.remove('w-0000000000aa')
    records.add('w-0000000000bb', 12346)
    // the writes are not awaited by the spawner: wait until they landed
    await vi.waitFor(async () => { expect(await readdir(join(dataDir, 'workers'))).toEqual(['w-0000000000bb.json']) })
  })
})
