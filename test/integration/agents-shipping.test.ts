import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, copyFile, rm, readdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canUnshare, gridWithHiddenAgent } from './helpers/namespaced-agent.ts'
import type { HiddenAgentGrid } from './helpers/namespaced-agent.ts'
import type { LogLine } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

const FIXTURE = fileURLToPath(new URL('../fixtures/stages/plain.mjs', import.meta.url))

// the agent gets its own mount namespace in which the requester's module dir is an empty tmpfs
describe.skipIf(!canUnshare)('code shipping to an agent that lacks the stage module', () => {
  let moduleDir: string
  let hidden: HiddenAgentGrid

  beforeAll(async () => {
    moduleDir = await mkdtemp(join(tmpdir(), 'gridd-requester-only-'))
    await copyFile(FIXTURE, join(moduleDir, 'double.mjs'))
    hidden = await gridWithHiddenAgent([moduleDir])
  })

  afterAll(async () => {
    await cleanup(
      async () => await hidden?.close(),
      async () => { if (moduleDir != null) await rm(moduleDir, { recursive: true, force: true }) }
    )
  })

  it('ships the source once (content-addressed), runs it, and the next spawn is a cache hit with no source on the wire', async () => {
    const { member, dataDir, agent } = hidden
    const spawned = (): LogLine[] => agent.lines.filter(l => l.msg === 'spawned for a remote requester')
    const first = await member.workers.spawn({ stage: 'double', module: join(moduleDir, 'double.mjs') })
    expect(await first.process(21)).toBe(42)
    await expect(first.process('x')).rejects.toMatchObject({ name: 'TypeError', message: 'expected a number, got string' })
    // the agent could not see the file, asked for it, and got its source with the second request
    expect(spawned().map(l => l.module)).toEqual(['shipped'])
    const cached = await readdir(join(dataDir, 'modules'))
    expect(cached).toHaveLength(1)
    expect(cached[0]).toMatch(/^[0-9a-f]{64}\.mjs$/)
    const file = join(dataDir, 'modules', cached[0]!)
    const before = await stat(file)
    await first.kill()
    const second = await member.workers.spawn({ stage: 'double', module: join(moduleDir, 'double.mjs') })
    expect(await second.process(5)).toBe(10)
    await second.kill()
    // the second request carried no source: the agent found the hash in its cache and did not write it again
    expect(spawned().map(l => l.module)).toEqual(['shipped', 'cached'])
    expect(await readdir(join(dataDir, 'modules'))).toEqual(cached)
    const after = await stat(file)
    expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before.ino, mtimeMs: before.mtimeMs })
  })
})
