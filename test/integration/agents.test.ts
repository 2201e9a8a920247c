import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import type { WorkerHandle } from '../../src/owner/worker-handle.ts'
import { GridError, ERR_MEMORY_LIMIT, ERR_STAGE_DEFINITION, ERR_STAGE_SETUP, ERR_WORKER_EXITED } from '../../src/errors.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']

describe('agents: placement, run-time weight and worker failures, with real processes', () => {
  let grid: GridFixture
  let agents: GridProcess[]
  let member: GridNode
  const spawned: WorkerHandle[] = []

  beforeAll(async () => {
    grid = await GridFixture.create(5)
    agents = await grid.startAgents(3, AGENT)
    member = await grid.member('n4', agents[0]!, 3)
  })

  afterAll(async () => {
    await cleanup(async () => await Promise.allSettled(spawned.map(async w => await w.kill())), async () => await grid?.close())
  })

  const perAgent = (handles: WorkerHandle[]): number[] => agents.map(a => handles.filter(h => h.agentId === a.peerId).length)

  it('spreads 6 workers 2/2/2 over 3 equal agents (horizontal), each processing items', async () => {
    const handles: WorkerHandle[] = []
    for (let i = 0; i < 6; i++) {
      const handle = await member.workers.spawn({ stage: 'echo', module: stage('echo.ts'), resources: { cpu: 1, memoryMb: 256 }, env: { RUN: 'it' } })
      handles.push(handle)
      // the placement of the next spawn sees this one in the agent's gossiped load
      await eventually(() => member.members().find(m => m.id === handle.agentId)?.load.workers === handles.filter(h => h.agentId === handle.agentId).length ? true : undefined, 5000, 50)
    }
    spawned.push(...handles)
    expect(perAgent(handles)).toEqual([2, 2, 2])
    for (const handle of handles) {
      const out = await handle.process({ n: 1 }) as { item: unknown, pid: number, stage: string, env: Record<string, string> }
      expect(out).toMatchObject({ item: { n: 1 }, pid: handle.pid, stage: 'echo', env: { RUN: 'it' } })
    }
    await Promise.all(handles.map(async h => await h.kill({ graceful: true })))
    await eventually(() => member.members().filter(m => m.state === 'alive').every(m => m.load.workers === 0) ? true : undefined)
  })

  it('after `grid weight 0 --node <agent A>`, new spawns avoid A', async () => {
    const a = agents[0]!
    const res = await runGrid(['weight', '0', '--node', a.address, '--certs', grid.dir])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toContain('weight 0')
    await eventually(() => member.members().find(m => m.id === a.peerId)?.weight === 0 ? true : undefined)
    const handles: WorkerHandle[] = []
    for (let i = 0; i < 4; i++) handles.push(await member.workers.spawn({ stage: 'echo', module: stage('echo.ts'), resources: { cpu: 1 } }))
    spawned.push(...handles)
    expect(handles.filter(h => h.agentId === a.peerId)).toHaveLength(0)
    await Promise.all(handles.map(async h => await h.kill()))
    expect((await runGrid(['weight', '1', '--node', a.address, '--certs', grid.dir])).code).toBe(0)
  })

  it('a worker that has exited stops counting against its agent: quick spawn/kill cycles keep landing on the first choice', async () => {
    // each worker takes an agent's whole CPU, so an agent still counting a finished spawn cannot fit the next
    const first = await member.workers.spawn({ stage: 'echo', module: stage('echo.ts'), resources: { cpu: 4 } })
    spawned.push(first)
    const chosen = first.agentId
    let handle = first
    for (let i = 0; i < 5; i++) {
      await handle.kill()
      await handle.exited
      await eventually(() => member.members().find(m => m.id === chosen)?.load.slotsUsed === 0 ? true : undefined, 5000, 5)
      handle = await member.workers.spawn({ stage: 'echo', module: stage('echo.ts'), resources: { cpu: 4 } })
      spawned.push(handle)
      expect(handle.agentId).toBe(chosen)
    }
    await handle.kill()
  })

  it('reports a worker over its memory limit, one throwing in setup and one calling process.exit(3), while the agent keeps serving', async () => {
    const hog = await member.workers.spawn({ stage: 'hog', module: stage('memory-hog.mjs'), resources: { cpu: 1, memoryMb: 150 } })
    await expect(hog.process(1)).rejects.toMatchObject({ code: 'ERR_WORKER_EXITED' })
    const hogExit = await hog.exited
    expect(hogExit.error?.name).toBe('MemoryLimitError')
    expect(hogExit.error?.code).toBe(ERR_MEMORY_LIMIT)
    expect(hogExit.error?.message).toMatch(/over its 150 MB limit/)

    const broken = await member.workers.spawn({ stage: 'broken', module: stage('setup-throws.mjs') })
    const brokenExit = await broken.exited
    expect(brokenExit.error?.message).toMatch(/cannot open the model file/)
    expect(brokenExit.error?.stack).toMatch(/setup-throws\.mjs/)
    expect(brokenExit.code).not.toBe(0)
    // its agent says it ended in setup: what was sent to it never ran (the hog's items did: a crash)
    expect(brokenExit.setupFailed).toBe(true)
    expect(hogExit.setupFailed).toBeUndefined()

    const quitter = await member.workers.spawn({ stage: 'quit', module: stage('exits.mjs') })
    await expect(quitter.process('bye')).rejects.toMatchObject({ code: 'ERR_WORKER_EXITED' })
    expect((await quitter.exited).code).toBe(3)

    // every agent still serves, and the capacity of the dead workers is free again
    await eventually(() => member.members().filter(m => m.state === 'alive').every(m => m.load.workers === 0) ? true : undefined)
    const after = await member.workers.spawn({ stage: 'echo', module: stage('echo.ts') })
    spawned.push(after)
    expect(await after.process('still here')).toMatchObject({ item: 'still here' })
    await after.kill()
    for (const agent of agents) expect(agent.proc.exitCode).toBeNull()
  })

  it('a GridError thrown in a worker process reaches the requester as a GridError with the same code', async () => {
    const bad = await member.workers.spawn({ stage: 'bad', module: stage('bad-export.mjs') })
    expect((await bad.exited).error).toMatchObject({ name: 'StageDefinitionError', code: ERR_STAGE_DEFINITION })
    const err = await bad.process(1).catch((e: unknown) => e) as GridError
    expect(err).toBeInstanceOf(GridError)
    // the module never became a stage: it ended in setup (the items sent to it never ran)
    expect(err.code).toBe(ERR_STAGE_SETUP)
    expect(err.cause).toBeInstanceOf(GridError)
    expect(err.cause).toMatchObject({ name: 'StageDefinitionError', code: ERR_STAGE_DEFINITION })
  })

  it('SIGKILL of an agent makes its workers\' handles reject with a typed error within failure detection', async () => {
    // an agent of this test's own (the three others stay up for any test after this one), weighted to take the
    // workers, and with room to spare: a spawn's reservation can count twice until gossip catches up
    const agent = await grid.start('n5', ['--agent', '--workers', '8', '--cpu', '8', '--memory', '4096', '--weight', '100', '--peer', agents[0]!.address])
    await eventually(() => member.members().some(m => m.id === agent.peerId && m.state === 'alive') ? true : undefined)
    const handles: WorkerHandle[] = []
    for (let i = 0; i < 3; i++) handles.push(await member.workers.spawn({ stage: 'echo', module: stage('echo.ts') }))
    spawned.push(...handles)
    expect(handles.map(h => h.agentId)).toEqual([agent.peerId, agent.peerId, agent.peerId])
    const victim = handles[0]!
    const started = Date.now()
    await agent.stop('SIGKILL')
    const exit = await victim.exited
    expect(exit.error?.code).toBe('ERR_AGENT_LOST')
    await expect(victim.process('x')).rejects.toMatchObject({ code: expect.stringMatching(/ERR_WORKER_EXITED|ERR_AGENT_LOST/) })
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
