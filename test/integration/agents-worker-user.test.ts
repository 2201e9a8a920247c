import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GridNode } from '../../src/node.ts'
import { GridFixture, FAST } from './helpers/grid-fixture.ts'
import { runGrid } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

/** Running workers as another user needs root, and a `nobody` to switch to. */
const canSwitchUser = process.getuid?.() === 0 && spawnSync('id', ['-u', 'nobody']).stdout?.toString().trim() === '65534'

// What a stage can do to its agent's secrets and cache: each attempt reports its error code, or 'ok'.
const PROBE = `import { readFileSync, writeFileSync } from 'node:fs'
const attempt = (fn) => { try { fn(); return 'ok' } catch (err) { return err.code } }
export default ({ keyPath, cacheDir }) => ({
  uid: process.getuid(),
  gid: process.getgid(),
  readKey: attempt(() => readFileSync(keyPath)),
  writeCache: attempt(() => writeFileSync(cacheDir + '/planted.mjs', 'export default 1'))
})
`

describe.skipIf(!canSwitchUser)('grid node --agent --worker-user nobody: a stage cannot read its agent\'s key', () => {
  let grid: GridFixture
  let agent: GridProcess
  let member: GridNode
  let holder: string
  let requesterDir: string
  let dataDir: string

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    // directories on the way let others through (mkdtemp makes them 0700): what stops the stage must be the key's own mode
    await chmod(grid.dir, 0o711)
    holder = await mkdtemp(join(tmpdir(), 'gridd-worker-user-'))
    await chmod(holder, 0o711)
    dataDir = join(holder, 'data')
    requesterDir = await mkdtemp(join(tmpdir(), 'gridd-worker-user-requester-'))
    await writeFile(join(requesterDir, 'probe.mjs'), PROBE)
    agent = await grid.start('n1', ['--agent', '--workers', '2', '--worker-user', 'nobody', '--data-dir', dataDir])
    member = await grid.member('n2', agent, 1)
  })

  afterAll(async () => {
    await cleanup(
      async () => await grid?.close(),
      async () => { for (const dir of [holder, requesterDir]) if (dir != null) await rm(dir, { recursive: true, force: true }) }
    )
  })

  it('the stage runs as uid 65534, gets EACCES on the agent\'s key file and on the module cache; kill still works', async () => {
    const keyPath = join(grid.dir, 'n1.key')
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600)
    const worker = await member.workers.spawn({ stage: 'probe', module: join(requesterDir, 'probe.mjs') })
    const report = await worker.process({ keyPath, cacheDir: join(dataDir, 'modules') })
    expect(report).toEqual({ uid: 65534, gid: 65534, readKey: 'EACCES', writeCache: 'EACCES' })
    expect(await agent.firstLine(l => l.msg === 'workers run as another user')).toMatchObject({ workerUser: 'nobody', uid: 65534 })
    await worker.kill()
    // the agent (root) reaped it: the process is gone
    expect(() => process.kill(worker.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }))
  })

  it('an unknown worker user is refused at start: exit 2, naming it', async () => {
    const res = await runGrid(['node', '--host', '127.0.0.1', '--port', '0', '--certs', grid.dir, '--name', 'n1', ...FAST, '--agent', '--worker-user', 'no-such-gridd-user', '--data-dir', join(holder, 'unknown')])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('no user "no-such-gridd-user"')
  })

  it('a data dir the worker user cannot reach is refused at start: exit 2, naming the directory in the way', async () => {
    const closed = await mkdtemp(join(tmpdir(), 'gridd-worker-user-closed-'))
    try {
      const res = await runGrid(['node', '--host', '127.0.0.1', '--port', '0', '--certs', grid.dir, '--name', 'n1', ...FAST, '--agent', '--worker-user', 'nobody', '--data-dir', join(closed, 'data')])
      expect(res.code).toBe(2)
      expect(res.stderr).toContain(`cannot reach the module cache ${join(closed, 'data', 'modules')}: ${closed} is mode 0700`)
    } finally {
      await rm(closed, { recursive: true, force: true })
    }
  })
})
