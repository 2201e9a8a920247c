import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import type { WorkerHandle } from '../../src/owner/worker-handle.ts'

const ECHO = fileURLToPath(new URL('../fixtures/stages/echo.ts', import.meta.url))
// room for 8: a spawn's reservation may still count while gossip already shows its worker (counted twice)
const AGENT = ['--agent', '--workers', '8', '--cpu', '8', '--memory', '8192']

describe('grid strategy <horizontal|vertical> --node: changes an agent\'s placement at run time', () => {
  let grid: GridFixture
  let agents: GridProcess[]
  let member: GridNode
  const spawned: WorkerHandle[] = []

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    agents = await grid.startAgents(2, AGENT)
    member = await grid.member('n3', agents[0]!, 2)
  })

  afterAll(async () => {
    await cleanup(async () => await Promise.allSettled(spawned.map(async w => await w.kill())), async () => await grid?.close())
  })

  const strategyOf = (agent: GridProcess): string | undefined => member.members().find(m => m.id === agent.peerId)?.strategy

  /** Spawns `count` one-CPU workers, each after the previous one shows in its agent's gossiped load. */
  async function spawnSeveral (count: number): Promise<WorkerHandle[]> {
    const handles: WorkerHandle[] = []
    for (let i = 0; i < count; i++) {
      const handle = await member.workers.spawn({ stage: 'echo', module: ECHO, resources: { cpu: 1, memoryMb: 256 } })
      handles.push(handle)
      spawned.push(handle)
      await eventually(() => member.members().find(m => m.id === handle.agentId)?.load.workers === handles.filter(h => h.agentId === handle.agentId).length ? true : undefined, 5000, 50)
    }
    return handles
  }

  async function killAll (handles: WorkerHandle[]): Promise<void> {
    await Promise.all(handles.map(async h => await h.kill()))
    await eventually(() => member.members().every(m => m.load.workers === 0) ? true : undefined)
  }

  const perAgent = (handles: WorkerHandle[]): number[] => agents.map(a => handles.filter(h => h.agentId === a.peerId).length)

  it('vertical packs the agent (3 workers on it), horizontal spreads again; gossiped to other members', async () => {
    const [a, b] = agents as [GridProcess, GridProcess]
    const vertical = await runGrid(['strategy', 'vertical', '--node', b.address, '--certs', grid.dir])
    expect(vertical.code, vertical.stderr).toBe(0)
    expect(vertical.stdout).toBe(`${b.address}: weight 1, strategy vertical\n`)
    await eventually(() => strategyOf(b) === 'vertical' ? true : undefined)
    // the other agent learns it from gossip too
    await eventually(async () => {
      const res = await runGrid(['status', '--peer', a.address, '--certs', grid.dir, '--json'])
      return (JSON.parse(res.stdout) as { members: Array<{ id: string, strategy: string }> }).members.find(m => m.id === b.peerId)?.strategy === 'vertical' ? true : undefined
    })
    const packed = await spawnSeveral(3)
    // a vertical agent fills before any spreading starts elsewhere
    expect(perAgent(packed)).toEqual([0, 3])
    await killAll(packed)

    const horizontal = await runGrid(['strategy', 'horizontal', '--node', b.address, '--certs', grid.dir])
    expect(horizontal.code, horizontal.stderr).toBe(0)
    await eventually(() => strategyOf(b) === 'horizontal' ? true : undefined)
    const spread = await spawnSeveral(4)
    expect(perAgent(spread)).toEqual([2, 2])
    await killAll(spread)
  })

  it('an unknown strategy exits 2 naming it, and changes nothing', async () => {
    const before = strategyOf(agents[0]!)
    const res = await runGrid(['strategy', 'diagonal', '--node', agents[0]!.address, '--certs', grid.dir])
    expect(res.code).toBe(2)
    expect(res.stderr.trim().split('\n')).toHaveLength(1)
    expect(res.stderr).toMatch(/strategy.*horizontal.* or .*vertical.*"diagonal"/)
    expect(strategyOf(agents[0]!)).toBe(before)
  })
})
