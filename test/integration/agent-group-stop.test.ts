import { describe, it, expect, afterEach } from 'vitest'
import { fileURLToPath } from 'node:url'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import type { GridNode } from '../../src/node.ts'
import { GridFixture, FAST } from './helpers/grid-fixture.ts'
import { GridProcess, readyOrKilled } from './helpers/grid-process.ts'

const fixture = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']
/** The agent's own stop takes a second before it reaches its workers, as a node's with an API or deployments does. */
const DRAINS = fixture('addons/drains-1s.mjs')

/** The process group `pid` belongs to, from /proc/<pid>/stat. */
function groupOf (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
}

/**
 * A whole agent stopped from outside while its workers are still in `setup`, on real processes: the signal
 * reaches every process of the agent's group (Ctrl-C in its terminal, systemd's KillMode=control-group), so
 * its workers die of it before the agent drains them. That is the agent's stop, not three failed setups:
 * the run owned elsewhere goes on on the next agent, and a task with maxRetries 0 runs there.
 */
describe('an agent stopped with its whole process group', () => {
  let grid: GridFixture | undefined

  afterEach(async () => { await grid?.close() })

  it.each(['SIGTERM', 'SIGINT'] as const)('%s: its workers in setup are stopped, not failed setups', async signal => {
    grid = await GridFixture.create(3)
    // a group of its own, as a shell's foreground job or a systemd unit: the group is the agent and its workers
    const full = ['--host', '127.0.0.1', '--port', '0', '--certs', grid.dir, '--name', 'n1', ...FAST, ...AGENT, '--addon', DRAINS]
    const agent = await readyOrKilled(new GridProcess(full, undefined, undefined, undefined, { detached: true }))
    grid.nodes.push(agent)
    const owner: GridNode = await grid.member('n3', agent, 1, { tasks: { sizeEveryMs: 200 } })
    const module = fixture('stages/slow-setup.mjs')
    const run = owner.pipeline('setup', { source: [1, 2, 3], stages: [{ name: 's', module, minWorkers: 3, maxWorkers: 3 }], sink: () => {}, equalize: false })
    const failed: unknown[] = []
    run.on('item:failed', f => { failed.push(f) })
    const task = owner.session({ name: 'starting', maxRetries: 0 }).submit(module, 'x')
    // three stage workers and the task's, all in their 2 s setup
    await agent.waitFor(() => agent.lines.filter(l => l.msg === 'worker started').length >= 4 ? true : false, 20_000, 0)
    const pgid = agent.proc.pid!
    expect(groupOf(pgid)).toBe(pgid)
    expect(groupOf(process.pid)).not.toBe(pgid)
    const exited = once(agent.proc, 'exit')
    process.kill(-pgid, signal)
    await exited
    // the next agent carries on
    const port = /\/tcp\/(\d+)/.exec(owner.addresses[0]!)![1]
    await grid.start('n2', [...AGENT, '--peer', `127.0.0.1:${port}`])
    // before, both failed: the run with StageSetupError (three failed setups), the task with TaskLostError
    const [summary, value] = await Promise.allSettled([run.done, task.result()])
    expect(summary).toMatchObject({ status: 'fulfilled', value: { in: 3, out: 3, failed: 0 } })
    expect(failed).toEqual([])
    expect(value).toEqual({ status: 'fulfilled', value: 'x' })
  }, 60_000)
})
