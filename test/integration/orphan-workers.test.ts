import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { readFile } from 'node:fs/promises'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually } from './helpers/grid-process.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))

function running (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** CPU time (user + system, clock ticks) the process has used, from /proc/<pid>/stat. */
async function cpuTicks (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
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

  it('after SIGKILL of the agent, a worker in a busy loop and one still in `setup` are gone within 5 s', async () => {
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

    await agent.stop('SIGKILL')

    await eventually(() => pids.every(pid => !running(pid)) ? true : undefined, 5000, 100)
    expect(pids.filter(running)).toEqual([])
  })
})
