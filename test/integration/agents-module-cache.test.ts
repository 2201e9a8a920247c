import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GridNode } from '../../src/node.ts'
import { readModule } from '../../src/owner/module-source.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { RawRequester } from './helpers/raw-spawn.ts'
import { cleanup } from './helpers/cleanup.ts'

/** A stage whose bundle is about 400 KB: three of them are over a 1 MiB cache. */
const bigStage = (tag: string): string => `export const padding = ${JSON.stringify(tag.repeat(400_000 / tag.length))}\nexport default () => ${JSON.stringify(tag)}\n`

describe('the agent\'s module cache: a quota with least-recently-used eviction, and nothing written for a refused spawn', () => {
  let grid: GridFixture
  let agent: GridProcess
  let member: GridNode
  let raw: RawRequester
  let dataDir: string
  let requesterDir: string
  const cached = async (): Promise<string[]> => (await readdir(join(dataDir, 'modules'))).sort()
  const hashOf = async (name: string): Promise<string> => (await readModule(join(requesterDir, `${name}.mjs`))).sha256

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    dataDir = join(grid.dir, 'agent-data')
    requesterDir = await mkdtemp(join(tmpdir(), 'gridd-cache-requester-'))
    for (const name of ['a', 'b', 'c', 'd']) await writeFile(join(requesterDir, `${name}.mjs`), bigStage(name))
    agent = await grid.start('n1', ['--agent', '--workers', '1', '--module-cache-mb', '1', '--data-dir', dataDir])
    member = await grid.member('n2', agent, 1)
    raw = await RawRequester.connect(grid, 'n3', agent)
  })

  afterAll(async () => {
    await cleanup(
      async () => await grid?.close(),
      async () => { if (requesterDir != null) await rm(requesterDir, { recursive: true, force: true }) }
    )
  })

  /** Spawns stage `name` on the agent (shipped if it lacks it), checks it runs, kills it. */
  async function run (name: string): Promise<void> {
    // the agent has one worker slot: wait until gossip shows the last worker gone
    const worker = await member.workers.spawn({ stage: name, module: join(requesterDir, `${name}.mjs`) }, { placementTimeoutMs: 15_000 })
    expect(await worker.process(null)).toBe(name)
    await worker.kill()
  }

  it('over its quota, the cache evicts the least recently used module, not one used since', async () => {
    const [a, b, c] = [await hashOf('a'), await hashOf('b'), await hashOf('c')]
    await run('a')
    await run('b')
    expect(await cached()).toEqual([`${a}.mjs`, `${b}.mjs`].sort())
    // a is used again (a cache hit): b is now the least recently used
    await run('a')
    await run('c')
    expect(await cached()).toEqual([`${a}.mjs`, `${c}.mjs`].sort())
    expect(agent.lines.some(l => l.msg === 'module evicted from the cache (least recently used)' && l.module === b)).toBe(true)
  })

  it('a spawn refused for capacity writes nothing to the cache', async () => {
    const busy = await member.workers.spawn({ stage: 'a', module: join(requesterDir, 'a.mjs') }, { placementTimeoutMs: 15_000 })
    try {
      const before = await cached()
      const d = await readModule(join(requesterDir, 'd.mjs'))
      const reply = await raw.spawn(agent, { path: d.path, sha256: d.sha256, source: d.source })
      expect(reply).toMatchObject({ ok: false, code: 'ERR_AGENT_FULL' })
      expect(await cached()).toEqual(before)
    } finally {
      await busy.kill()
    }
  })
})
