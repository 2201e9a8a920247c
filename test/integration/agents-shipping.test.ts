import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, copyFile, rm, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canUnshare, gridWithHiddenAgent } from './helpers/namespaced-agent.ts'
import type { HiddenAgentGrid } from './helpers/namespaced-agent.ts'

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
    await hidden?.close()
    await rm(moduleDir, { recursive: true, force: true })
  })

  it('ships the source once (content-addressed), runs it, and reuses the cached copy', async () => {
    const { member, dataDir, agent } = hidden
    const first = await member.workers.spawn({ stage: 'double', module: join(moduleDir, 'double.mjs') })
    expect(await first.process(21)).toBe(42)
    await expect(first.process('x')).rejects.toMatchObject({ name: 'TypeError', message: 'expected a number, got string' })
    const cached = await readdir(join(dataDir, 'modules'))
    expect(cached).toHaveLength(1)
    expect(cached[0]).toMatch(/^[0-9a-f]{64}\.mjs$/)
    await first.kill()
    const second = await member.workers.spawn({ stage: 'double', module: join(moduleDir, 'double.mjs') })
    expect(await second.process(5)).toBe(10)
    expect(await readdir(join(dataDir, 'modules'))).toEqual(cached)
    await second.kill()
    expect(agent.lines.filter(l => l.msg === 'spawned for a remote requester')).toHaveLength(2)
  })
})
