import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import type { GridNode } from '../../src/node.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually } from './helpers/grid-process.ts'
import type { FailedItem } from '../../src/pipeline/types.ts'

const HANGS = fileURLToPath(new URL('../fixtures/stages/hangs-on-3.mjs', import.meta.url))
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

/**
 * A stage whose `process` never resolves for one item (a hung HTTP call), on a real agent process: without a
 * per-item timeout it held that item, and the items sent to its worker behind it, for ever, and `run.done`
 * never resolved. With `itemTimeoutMs` each attempt fails with ItemTimeoutError, and a worker that ignores
 * its aborted ctx.signal is killed and replaced.
 */
describe('itemTimeoutMs', () => {
  let grid: GridFixture
  let owner: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    const agent = await grid.start('n1', AGENT)
    owner = await grid.member('n2', agent, 1)
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  async function runWith (name: string, honour: boolean): Promise<{ sunk: number[], failed: FailedItem[], lost: string[], hungPids: number[], resultPids: Set<number> }> {
    const pidFile = join(grid.dir, `${name}.pids`)
    const sunk: number[] = []
    const resultPids = new Set<number>()
    const failed: FailedItem[] = []
    const lost: string[] = []
    const run = owner.pipeline(name, {
      source: Array.from({ length: 10 }, (_, i) => ({ n: i + 1, honour, pidFile })),
      stages: [{ name: 'hangs', module: HANGS, minWorkers: 1, maxWorkers: 1, itemTimeoutMs: 500 }],
      sink: (result: { n: number, pid: number }) => { sunk.push(result.n); resultPids.add(result.pid) },
      maxAttempts: 2,
      equalize: false
    })
    run.on('item:failed', f => failed.push(f))
    run.on('worker:lost', w => lost.push(w.workerId))
    const summary = await run.done
    expect(summary).toMatchObject({ in: 10, out: 9, failed: 1 })
    const hungPids = (await readFile(pidFile, 'utf8')).trim().split('\n').map(Number)
    return { sunk, failed, lost, hungPids, resultPids }
  }

  it('a hung item that ignores its signal fails with ERR_ITEM_TIMEOUT after maxAttempts; its workers are killed, the other 9 items sunk', async () => {
    const { sunk, failed, lost, hungPids } = await runWith('ignores', false)
    expect(sunk.sort((a, b) => a - b)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10])
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ id: '3', stage: 'hangs', attempts: 2, error: { code: 'ERR_ITEM_TIMEOUT' } })
    // one worker per attempt, each killed a grace after its item's signal was aborted (the first replaced; the
    // attempt fails only then): none is left running the item, and the owner's kills are no lost workers
    expect(hungPids).toHaveLength(2)
    expect(hungPids[0]).not.toBe(hungPids[1])
    expect(lost).toEqual([])
    await eventually(() => hungPids.every(pid => !alive(pid)) ? true : undefined, 10_000)
  }, 30_000)

  it('a hung item that gives up on its signal fails the same, and its worker is not killed', async () => {
    const { sunk, failed, lost, hungPids, resultPids } = await runWith('honours', true)
    expect(sunk.sort((a, b) => a - b)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10])
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ id: '3', attempts: 2, error: { code: 'ERR_ITEM_TIMEOUT' } })
    // both attempts and every other item on the one worker, never lost
    expect(lost).toEqual([])
    expect(new Set(hungPids).size).toBe(1)
    expect([...resultPids]).toEqual([hungPids[0]])
  }, 30_000)
})
