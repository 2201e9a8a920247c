import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { readdir, readFile } from 'node:fs/promises'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually } from './helpers/grid-process.ts'
import { processRunning } from './helpers/process-state.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))

// an exited worker whose agent is gone stays a zombie until init reaps it: not running
const running = processRunning

/** CPU time (user + system, clock ticks) the process has used, from /proc/<pid>/stat. */
async function cpuTicks (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** The agent's children started as pre-started worker hosts (their command line says so). */
async function prestartedHosts (agentPid: number): Promise<number[]> {
  const hosts: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const cmdline = parent === agentPid ? await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '') : ''
    if (cmdline.split('\0').includes('(pre-started)')) hosts.push(Number(entry))
  }
  return hosts
}

describe('no orphan workers: a worker dies with its agent (issue 14, item 5)', () => {
  let grid: GridFixture
  let member: GridNode | undefined
  const pids: number[] = []

  beforeAll(async () => {
    grid = await GridFixture.create(2)
  })

  afterAll(async () => {
    // whatever the outcome, no worker of this test outlives it
    for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL')
    await member?.stop()
    await grid.close()
  })

  it('after SIGKILL of the agent, a worker in a busy loop, one still in `setup` and its idle pre-started worker hosts are gone within 5 s', async () => {
    const agent = await grid.start('n1', ['--agent', '--workers', '4', '--cpu', '4', '--memory', '1024'])
    member = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n2'), peers: [agent.address], heartbeatMs: 200 })
    await eventually(() => member!.members().some(m => m.id === agent.peerId && m.role === 'agent' && m.state === 'alive' && m.load.maxWorkers === 4) ? true : undefined)
    const busy = await member.workers.spawn({ stage: 'busy', module: stage('busy-loop.mjs'), resources: { cpu: 1 } })
    const stuck = await member.workers.spawn({ stage: 'stuck', module: stage('setup-hangs.mjs'), resources: { cpu: 1 } })
    pids.push(busy.pid, stuck.pid)
    void busy.process(1).catch(() => {})
    // the busy worker is spinning once it has burnt half a second of CPU (its main thread never yields again)
    await eventually(async () => await cpuTicks(busy.pid) >= 50 ? true : undefined, 20_000, 100)
    expect(running(stuck.pid)).toBe(true)
    // the agent keeps 2 worker hosts pre-started (the default), forked like workers, holding no stage
    // (a worker that took a pre-started host keeps its command line: the stage is not on it)
    const hosts = await eventually(async () => {
      const idle = (await prestartedHosts(agent.proc.pid!)).filter(pid => !pids.includes(pid))
      return idle.length === 2 ? idle : undefined
    }, 20_000, 100)
    pids.push(...hosts)

    await agent.stop('SIGKILL')

    await eventually(() => pids.every(pid => !running(pid)) ? true : undefined, 5000, 100)
    expect(pids.filter(running)).toEqual([])
  })
})
