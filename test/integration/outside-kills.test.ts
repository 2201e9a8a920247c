import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { execFileSync } from 'node:child_process'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import type { FailedItem } from '../../src/pipeline/types.ts'

const fixture = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']

/** Pids of `agent`'s worker processes (pre-started ones included: one of them may have taken the stage). */
function workerPids (agent: GridProcess): number[] {
  let out = ''
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(agent.proc.pid)], { encoding: 'utf8' })
  } catch {
    return [] // no children
  }
  return out.split('\n').filter(line => line.includes('worker-host')).map(line => Number(line.trim().split(/\s+/)[0]))
}

/**
 * Workers ended by something other than their work, on real agent processes: a stop request from
 * outside the grid (SIGTERM: an operator, or systemd stopping the agent's unit) makes no item a suspect,
 * and a task whose agent stops gracefully uses none of its retries. A SIGKILL from outside stays a crash.
 */
describe('workers stopped from outside or by their agent are not their work\'s doing', () => {
  let grid: GridFixture
  let agents: GridProcess[]
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    agents = await grid.startAgents(2, AGENT)
    owner = await grid.member('n3', agents[0]!, 2, { tasks: { sizeEveryMs: 200 } })
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('an item whose worker is stopped with SIGTERM twice from outside is delivered, not failed as poison', async () => {
    const failed: FailedItem[] = []
    const out: unknown[] = []
    const run = owner.pipeline('sigterm', { source: [{ ms: 1500 }], stages: [{ name: 'sleep', module: fixture('stages/sleep.mjs'), minWorkers: 1, maxWorkers: 1 }], sink: v => { out.push(v) }, equalize: false })
    run.on('item:failed', f => failed.push(f))
    let lost = 0
    run.on('worker:lost', () => { lost++ })
    for (let stop = 0; stop < 2; stop++) {
      // the item is sent to a worker only once its setup is done: in flight, the worker is past setup (a stop
      // before that is a failed setup, which would pass this test on the old code too)
      await eventually(() => run.stats().stages[0]?.inFlight === 1 ? true : undefined, 20_000)
      const pids = await eventually(() => { const found = agents.flatMap(workerPids); return found.length > 0 ? found : undefined }, 20_000)
      // and on the worker by now (it sleeps 1.5 s)
      await new Promise(resolve => setTimeout(resolve, 200))
      for (const pid of pids) process.kill(pid, 'SIGTERM')
      await eventually(() => lost > stop ? true : undefined)
    }
    const summary = await run.done
    expect(failed.map(f => f.error.name)).toEqual([])
    expect(lost).toBe(2)
    expect(summary.out).toBe(1)
  }, 60_000)

  it('tasks sharing a worker SIGKILLed from outside use none of their retries: they run again, each alone', async () => {
    const module = fixture('tasks/cooperative.mjs')
    owner.tasks.configure(module, { maxWorkers: 1, window: 4 })
    const session = owner.session({ name: 'shared', maxRetries: 0 })
    const handles = [0, 1, 2, 3].map(() => session.submit(module, { ms: 1000 }))
    // all four on the pool's one worker, the first started: killed at once, as the three behind it are taken back
    // once it has run STUCK_AFTER_MS (1 s), and it would no longer share its worker
    const shared = async (): Promise<true | undefined> => {
      const statuses = await Promise.all(handles.map(async h => (await owner.tasks.getTask(h.id))?.status))
      return statuses.filter(s => s === 'running').length === 1 && statuses.filter(s => s === 'dispatched').length === 3 ? true : undefined
    }
    await eventually(shared, 20_000, 20)
    // any agent's worker hosts (a pre-started one included) go
    for (const pid of agents.flatMap(workerPids)) process.kill(pid, 'SIGKILL')
    const values = await Promise.all(handles.map(async h => await h.result() as { ran: number }))
    expect(values.map(v => v.ran >= 1000)).toEqual([true, true, true, true])
  }, 60_000)

  it('a task with maxRetries 0 whose agent stops gracefully runs on the other agent', async () => {
    const session = owner.session({ name: 'rolling', maxRetries: 0 })
    const handle = session.submit(fixture('tasks/cooperative.mjs'), { ms: 1500 })
    const running = await eventually(async () => { const t = await owner.tasks.getTask(handle.id); return t?.status === 'running' && t.agent != null ? t : undefined }, 20_000)
    const host = agents.find(a => a.peerId === running.agent)!
    await host.stop('SIGTERM')
    const value = await handle.result() as { ran: number }
    expect(value.ran).toBeGreaterThanOrEqual(1500)
  }, 60_000)
})
