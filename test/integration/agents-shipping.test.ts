import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtemp, copyFile, rm, readdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GridNode } from '../../src/node.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture, FAST } from './helpers/grid-fixture.ts'
import { GridProcess, GRID_BIN, eventually } from './helpers/grid-process.ts'
import type { LogLine } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

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
    const args = ['node', '--certs', grid.dir, '--name', 'n1', '--host', '127.0.0.1', '--port', '0', '--agent', '--workers', '2', ...FAST]
    const script = `mount -t tmpfs none '${moduleDir}' && cd '${emptyCwd}' && exec '${process.execPath}' '${GRID_BIN}' ${args.map(a => `'${a}'`).join(' ')}`
    // the data dir comes from the environment (GRID_DATA_DIR), as a service manager would set it
    agent = new GridProcess([], { GRID_DATA_DIR: dataDir }, undefined, ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script])
    // registered before it is ready, so a failed start is still stopped by grid.close()
    grid.nodes.push(agent)
    await agent.ready()
    member = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n2'), peers: [agent.address], heartbeatMs: 200 })
    await eventually(() => member.members().some(m => m.role === 'agent' && m.state === 'alive') ? true : undefined)
  })

  afterAll(async () => {
    await cleanup(
      async () => await member?.stop(),
      async () => await grid?.close(),
      async () => { for (const dir of [moduleDir, dataDir, emptyCwd]) if (dir != null) await rm(dir, { recursive: true, force: true }) }
    )
  })

  it('ships the source once (content-addressed), runs it, and the next spawn is a cache hit with no source on the wire', async () => {
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
