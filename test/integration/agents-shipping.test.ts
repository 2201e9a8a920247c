import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtemp, copyFile, rm, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture, FAST } from './helpers/grid-fixture.ts'
import { GridProcess, GRID_BIN, eventually } from './helpers/grid-process.ts'

const FIXTURE = fileURLToPath(new URL('../fixtures/stages/plain.mjs', import.meta.url))
// the agent gets its own mount namespace in which the requester's module dir is an empty tmpfs
const canUnshare = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0

describe.skipIf(!canUnshare)('code shipping to an agent that lacks the stage module', () => {
  let grid: GridFixture
  let moduleDir: string
  let dataDir: string
  let emptyCwd: string
  let agent: GridProcess
  let member: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    moduleDir = await mkdtemp(join(tmpdir(), 'gridd-requester-only-'))
    dataDir = await mkdtemp(join(tmpdir(), 'gridd-agent-data-'))
    emptyCwd = await mkdtemp(join(tmpdir(), 'gridd-agent-cwd-'))
    await copyFile(FIXTURE, join(moduleDir, 'double.mjs'))
    const args = ['node', '--certs', grid.dir, '--name', 'n1', '--host', '127.0.0.1', '--port', '0', '--agent', '--workers', '2', '--data-dir', dataDir, ...FAST]
    const script = `mount -t tmpfs none '${moduleDir}' && cd '${emptyCwd}' && exec '${process.execPath}' '${GRID_BIN}' ${args.map(a => `'${a}'`).join(' ')}`
    agent = await new GridProcess([], {}, undefined, ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script]).ready()
    grid.nodes.push(agent)
    member = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n2'), peers: [agent.address], heartbeatMs: 200 })
    await eventually(() => member.members().some(m => m.role === 'agent' && m.state === 'alive') ? true : undefined)
  })

  afterAll(async () => {
    await member?.stop()
    await grid.close()
    for (const dir of [moduleDir, dataDir, emptyCwd]) await rm(dir, { recursive: true, force: true })
  })

  it('ships the source once (content-addressed), runs it, and reuses the cached copy', async () => {
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
