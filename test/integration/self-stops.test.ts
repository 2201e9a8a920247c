import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import type { FailedItem } from '../../src/pipeline/types.ts'
import { EXCUSED_LOSSES } from '../../src/owner/worker-handle.ts'

const fixture = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']

/**
 * Work that stops its own worker or agent with SIGTERM, on real agent processes: an agent cannot tell such a
 * stop from an operator's, and excused it every time, so a task (even with maxRetries 0) cycled queued →
 * dispatched → running for ever, an item never became a poison item, a stage's setup never failed the run,
 * and a task that stopped its agent went on to stop the next one. Excused a few times, then counted, each ends.
 */
describe('work that SIGTERMs its own worker ends', () => {
  let grid: GridFixture
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    const agents = await grid.startAgents(2, AGENT)
    owner = await grid.member('n3', agents[0]!, 2, { tasks: { sizeEveryMs: 200 } })
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('a task with maxRetries 0 fails with TaskLostError after a few excused losses', async () => {
    const handle = owner.session({ name: 'self', maxRetries: 0 }).submit(fixture('tasks/sigterm-self.mjs'), {})
    const err = await handle.result().then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_TASK_LOST' })
    expect((await owner.tasks.getTask(handle.id))?.attempts).toBe(EXCUSED_LOSSES + 1)
  }, 30_000)

  it('a pipeline item is failed as a poison item; the run ends', async () => {
    const failed: FailedItem[] = []
    const run = owner.pipeline('self', { source: [1], stages: [{ name: 's', module: fixture('stages/sigterm-self.mjs'), minWorkers: 1, maxWorkers: 1 }], sink: () => {}, equalize: false })
    run.on('item:failed', f => failed.push(f))
    const summary = await run.done
    expect(failed.map(f => f.error.code)).toEqual(['ERR_POISON_ITEM'])
    expect(summary).toMatchObject({ in: 1, out: 0, failed: 1 })
  }, 30_000)

  it('a stage whose setup SIGTERMs itself fails the run with ERR_STAGE_SETUP', async () => {
    const failed: FailedItem[] = []
    const run = owner.pipeline('setup', { source: [1, 2], stages: [{ name: 's', module: fixture('stages/sigterm-setup.mjs'), minWorkers: 1, maxWorkers: 1 }], sink: () => {}, equalize: false })
    run.on('item:failed', f => failed.push(f))
    await expect(run.done).rejects.toMatchObject({ code: 'ERR_STAGE_SETUP' })
    expect(failed).toEqual([])
  }, 30_000)
})

/** A throwaway grid: the task stops each agent it lands on. */
describe('a task that SIGTERMs its agent ends', () => {
  let grid: GridFixture
  let agents: GridProcess[]
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(EXCUSED_LOSSES + 3)
    agents = await grid.startAgents(EXCUSED_LOSSES + 2, AGENT)
    owner = await grid.member(`n${EXCUSED_LOSSES + 3}`, agents[0]!, agents.length, { tasks: { sizeEveryMs: 200 } })
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('with maxRetries 0, TaskLostError once its excused losses are spent; the agents left stay up', async () => {
    const handle = owner.session({ name: 'agent', maxRetries: 0 }).submit(fixture('tasks/sigterm-agent.mjs'), {})
    const err = await handle.result().then(() => undefined, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_TASK_LOST' })
    expect((err as Error).message).toMatch(/it left the grid|was stopped/)
    expect((await owner.tasks.getTask(handle.id))?.attempts).toBe(EXCUSED_LOSSES + 1)
    // one agent stopped per attempt (each leaves gracefully, then exits); the last one never ran it
    const up = (): GridProcess[] => agents.filter(a => a.proc.exitCode === null && a.proc.signalCode === null)
    await eventually(() => up().length === 1 ? true : undefined, 20_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(up()).toHaveLength(1)
  }, 60_000)
})
