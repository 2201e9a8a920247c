import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { FailedItem } from '../../src/pipeline/types.ts'
import { ERR_ITEM_TOO_LARGE, ERR_NOT_SERIALIZABLE, ERR_STAGE_SETUP } from '../../src/errors.ts'

const stage = (name: string): string => fileURLToPath(new URL(`../fixtures/stages/${name}`, import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']
const MB = 1024 * 1024

/**
 * Values that cross from an owner to a real remote agent and back as JSON: one JSON cannot encode, or
 * too large for a worker-stream message, fails its own item (item:failed, the run ends); large values
 * that fit alone all arrive. Each used to end the worker stream (a hung run, or items re-run forever as
 * after a lost agent).
 */
describe('pipeline values on the wire to a remote agent', () => {
  let grid: GridFixture
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    const [agent] = await grid.startAgents(1, AGENT)
    owner = await grid.member('n2', agent!, 1)
  })

  afterAll(async () => { await grid?.close() })

  /** Runs `items` through `module` (one worker on the agent) and gives its summary, what arrived and what failed. */
  async function run (name: string, module: string, items: unknown[]): Promise<{ out: unknown[], failed: FailedItem[], summary: Awaited<ReturnType<GridNode['pipeline']>['done']> }> {
    const out: unknown[] = []
    const failed: FailedItem[] = []
    const pipeline = owner.pipeline(name, { source: items, stages: [{ name: 's', module: stage(module), minWorkers: 1, maxWorkers: 1 }], sink: value => { out.push(value) }, equalize: false })
    pipeline.on('item:failed', f => failed.push(f))
    const summary = await pipeline.done
    return { out, failed, summary }
  }

  it('a stage returning 1n: that item fails with ERR_NOT_SERIALIZABLE after its attempts, the others arrive, the run ends', async () => {
    const { out, failed, summary } = await run('bigint-result', 'bigint.mjs', ['a', 'big', 'b'])
    expect(out.sort()).toEqual(['a', 'b'])
    expect(failed.map(f => [f.item, f.attempts, f.error.code])).toEqual([['big', 3, ERR_NOT_SERIALIZABLE]])
    expect(summary).toMatchObject({ in: 3, out: 2, failed: 1 })
  }, 15_000)

  it('an item 2n: it fails with ERR_NOT_SERIALIZABLE at the owner (not a lost agent re-run forever), the others arrive', async () => {
    const { out, failed, summary } = await run('bigint-item', 'noop.mjs', [1, 2n, 3])
    expect(out.sort()).toEqual([1, 3])
    expect(failed.map(f => [f.item, f.attempts, f.error.code])).toEqual([[2n, 3, ERR_NOT_SERIALIZABLE]])
    expect(summary).toMatchObject({ in: 3, out: 2, failed: 1 })
  }, 15_000)

  it('an undefined item crosses as such (its batch entry has no item key: the agent closed the stream for it, and the item ran again forever)', async () => {
    // echo.ts answers { item, pid, … }: the stage saw the item (a stage's own undefined is no output at all)
    const { out, failed, summary } = await run('undefined-item', 'echo.ts', [1, undefined, 3])
    expect(out.map(o => (o as { item?: unknown }).item).sort()).toEqual([1, 3, undefined])
    expect(failed).toEqual([])
    expect(summary).toMatchObject({ in: 3, out: 3, failed: 0 })
  }, 15_000)

  it('a stage whose setup always throws fails the run with ERR_STAGE_SETUP and the stage\'s own error, after 3 workers; no item is blamed', async () => {
    const failed: FailedItem[] = []
    const pipeline = owner.pipeline('setup-throws', { source: [1, 2, 3], stages: [{ name: 's', module: stage('setup-throws.mjs'), minWorkers: 1, maxWorkers: 1 }], sink: () => {}, equalize: false })
    pipeline.on('item:failed', f => failed.push(f))
    const err = await pipeline.done.then(s => s, (e: unknown) => e)
    expect(err).toMatchObject({ code: ERR_STAGE_SETUP })
    expect(String((err as Error).message)).toMatch(/cannot open the model file/)
    expect(((err as Error).cause as Error).stack).toMatch(/setup-throws\.mjs/)
    // the items never ran: none failed as a poison item (each used to, after two workers died under it)
    expect(failed).toEqual([])
  }, 30_000)

  it('20 items of 1.1 MB through an echo stage (a window of them is over 16 MiB) all arrive', async () => {
    const items = Array.from({ length: 20 }, (_, i) => String(i % 10).repeat(Math.round(1.1 * MB)) + String(i))
    const { out, failed, summary } = await run('large-values', 'noop.mjs', items)
    expect(failed).toEqual([])
    expect(summary).toMatchObject({ in: 20, out: 20, failed: 0 })
    expect(new Set(out).size).toBe(20)
    expect(out.every(value => items.includes(value as string))).toBe(true)
  }, 60_000)

  it('an item over 16 MiB alone fails with ERR_ITEM_TOO_LARGE, the others arrive', async () => {
    const { out, failed, summary } = await run('too-large', 'noop.mjs', ['a', 'x'.repeat(17 * MB), 'b'])
    expect(out.sort()).toEqual(['a', 'b'])
    expect(failed.map(f => [f.attempts, f.error.code])).toEqual([[3, ERR_ITEM_TOO_LARGE]])
    expect(summary).toMatchObject({ in: 3, out: 2, failed: 1 })
  }, 30_000)
})
