import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GridFixture, FAST } from './helpers/grid-fixture.ts'
import { execFile } from 'node:child_process'
import { GRID_BIN, runGrid, startNode } from './helpers/grid-process.ts'
import type { CliResult } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'
import { canUnshare } from './helpers/namespaced-agent.ts'

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777

describe('an agent\'s data dir: per user, mode 0700, checked at start', () => {
  let grid: GridFixture
  let base: string

  beforeAll(async () => {
    grid = await GridFixture.create(1)
    base = await mkdtemp(join(tmpdir(), 'gridd-data-dir-'))
  })

  afterAll(async () => {
    await cleanup(
      async () => await grid?.close(),
      async () => { if (base != null) await rm(base, { recursive: true, force: true }) }
    )
  })

  const args = (...extra: string[]): string[] => ['--certs', grid.dir, '--name', 'n1', ...FAST, '--agent', '--workers', '1', ...extra]

  it('defaults to $XDG_STATE_HOME/gridd/<peer id>, created with mode 0700', async () => {
    const stateHome = join(base, 'state')
    const node = await startNode(args(), { XDG_STATE_HOME: stateHome })
    grid.nodes.push(node)
    const dataDir = join(stateHome, 'gridd', node.peerId)
    expect(await mode(dataDir)).toBe(0o700)
    expect(await mode(join(dataDir, 'modules'))).toBe(0o750)
    await node.stop()
  })

  it('a data dir others could only read is tightened to 0700 (logged)', async () => {
    const dataDir = join(base, 'readable')
    await mkdir(dataDir)
    await chmod(dataDir, 0o755)
    const node = await startNode(args('--data-dir', dataDir))
    grid.nodes.push(node)
    expect(await mode(dataDir)).toBe(0o700)
    expect(await node.firstLine(l => l.msg === 'data dir mode tightened')).toMatchObject({ was: '0755', now: '0700' })
    await node.stop()
  })

  it('a data dir others can write to is refused: exit 2, saying why and what to do', async () => {
    const dataDir = join(base, 'shared')
    await mkdir(dataDir)
    await chmod(dataDir, 0o777)
    const res = await runGrid(['node', '--host', '127.0.0.1', '--port', '0', ...args('--data-dir', dataDir)])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('is writable by everyone (mode 0777)')
    expect(res.stderr).toContain('chmod 700')
    expect(await mode(dataDir)).toBe(0o777)
  })

  it('a data dir that is a file is refused: exit 2 naming --data-dir, no stack', async () => {
    const dataDir = join(base, 'a-file')
    await writeFile(dataDir, 'not a directory')
    const res = await runGrid(['node', '--host', '127.0.0.1', '--port', '0', ...args('--data-dir', dataDir)])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain(`grid: dataDir: ${dataDir} exists and is not a directory; pick another --data-dir`)
    expect(res.stderr).not.toMatch(/^\s+at /m)
  })

  /** `grid node ARGS` in a mount namespace of its own where a small tmpfs mounted with `options` is at `mountPoint`. */
  const onTmpfs = async (mountPoint: string, options: string, nodeArgs: string[]): Promise<CliResult> => await new Promise(resolve => {
    const script = `mount -t tmpfs -o ${options} tmpfs "${mountPoint}" && exec "$0" "$@"`
    execFile('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, GRID_BIN, 'node', ...nodeArgs], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })

  // a disk that fails is no bad input: exit 2 would tell the user to fix a flag that is right
  it.skipIf(!canUnshare).each([
    ['read-only', 'ro,size=64k', 'EROFS'],
    ['full', 'size=64k,nr_inodes=2', 'ENOSPC']
  ])('a data dir that cannot be created on a %s filesystem: exit 1 naming the dir and the system error', async (_what, options, code) => {
    const mountPoint = await mkdtemp(join(base, 'mnt-'))
    const dataDir = join(mountPoint, 'state', 'node')
    const res = await onTmpfs(mountPoint, options, ['--host', '127.0.0.1', '--port', '0', ...args('--data-dir', dataDir)])
    expect(res.code).toBe(1)
    expect(res.stderr).toContain(`grid: cannot create the data dir ${dataDir}: ${code}`)
    expect(res.stderr).not.toContain('pick another --data-dir')
    expect(res.stderr).not.toMatch(/^\s+at /m)
  })

  // only root can give a dir away
  it.skipIf(process.getuid?.() !== 0)('a data dir owned by another user is refused: exit 2', async () => {
    const dataDir = join(base, 'foreign')
    await mkdir(dataDir, { mode: 0o700 })
    await chown(dataDir, 65534, 65534)
    const res = await runGrid(['node', '--host', '127.0.0.1', '--port', '0', ...args('--data-dir', dataDir)])
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('belongs to uid 65534')
  })
})
