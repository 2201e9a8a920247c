import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm, writeFile, readFile, chmod } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decide, ensureTestDeps } from '../../../scripts/ensure-test-deps.ts'
import type { SystemPackage } from '../../../scripts/ensure-test-deps.ts'

const SCRIPT = fileURLToPath(new URL('../../../scripts/ensure-test-deps.ts', import.meta.url))

describe('decide: what the pretest does about missing system packages', () => {
  const chromium: SystemPackage = { apt: 'chromium', binary: '/nonexistent/chromium', neededBy: 'a test' }

  it('nothing missing: nothing to do', () => {
    expect(decide([], { root: true, aptGet: true })).toEqual({ action: 'none' })
  })

  it('root with apt-get: installs, and names the command', () => {
    expect(decide([chromium], { root: true, aptGet: true })).toMatchObject({ action: 'install', command: 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium' })
  })

  it('not root, or no apt-get: stops with the exact command to run', () => {
    expect(decide([chromium], { root: false, aptGet: true })).toMatchObject({ action: 'stop', command: 'sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium' })
    expect(decide([chromium], { root: true, aptGet: false })).toMatchObject({ action: 'stop' })
  })
})

describe('ensureTestDeps against a missing binary and a stand-in apt-get', () => {
  let dir: string
  let lines: string[]
  const print = (line: string): void => { lines.push(line) }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-ensure-deps-'))
    lines = []
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  /** A shell script standing in for apt-get: records its calls; `install` creates the binary unless told to fail. */
  async function fakeAptGet (binary: string, { fail = false, create = true } = {}): Promise<string> {
    const path = join(dir, 'apt-get')
    const install = fail ? 'echo "E: Unable to locate package"; exit 100' : create ? `printf '#!/bin/sh\\n' > '${binary}'; chmod +x '${binary}'` : 'true'
    await writeFile(path, `#!/bin/sh\necho "fake apt-get $*"\necho "$*" >> '${join(dir, 'calls')}'\nif [ "$1" = install ]; then ${install}; fi\nexit 0\n`)
    await chmod(path, 0o755)
    return path
  }

  it('installs what is missing with one line of output and apt in the log', async () => {
    const binary = join(dir, 'chromium')
    const logPath = join(dir, 'apt.log')
    const code = await ensureTestDeps({ packages: [{ apt: 'chromium', binary, neededBy: 'a test' }], aptGet: await fakeAptGet(binary), logPath, root: true, print })
    expect(code).toBe(0)
    expect(lines).toEqual([`installing chromium (${binary}, for a test) with apt-get (log: ${logPath})`])
    expect((await readFile(join(dir, 'calls'), 'utf8')).split('\n')).toEqual(['update -q', 'install -y -q chromium', ''])
    expect(await readFile(logPath, 'utf8')).toContain('fake apt-get install -y -q chromium')
    // present now: a second run does nothing and says nothing
    expect(await ensureTestDeps({ packages: [{ apt: 'chromium', binary, neededBy: 'a test' }], aptGet: join(dir, 'apt-get'), logPath, root: true, print })).toBe(0)
    expect(lines).toHaveLength(1)
  })

  it('apt-get failing: exit 1 naming the log and the command', async () => {
    const binary = join(dir, 'chromium')
    const logPath = join(dir, 'apt.log')
    const code = await ensureTestDeps({ packages: [{ apt: 'chromium', binary, neededBy: 'a test' }], aptGet: await fakeAptGet(binary, { fail: true }), logPath, root: true, print })
    expect(code).toBe(1)
    expect(lines[1]).toContain(`see ${logPath}`)
    expect(lines[1]).toContain('apt-get install -y chromium')
    expect(await readFile(logPath, 'utf8')).toContain('Unable to locate package')
  })

  it('apt-get succeeding without the binary appearing is a failure too', async () => {
    const binary = join(dir, 'chromium')
    const code = await ensureTestDeps({ packages: [{ apt: 'chromium', binary, neededBy: 'a test' }], aptGet: await fakeAptGet(binary, { create: false }), logPath: join(dir, 'apt.log'), root: true, print })
    expect(code).toBe(1)
    expect(lines[1]).toContain(`${binary} is still missing`)
  })

  it('as a process: --chromium at a missing path and no apt-get stops with the command', () => {
    const result = spawnSync(process.execPath, [SCRIPT, '--chromium', join(dir, 'missing'), '--apt-get', join(dir, 'no-apt-get'), '--log', join(dir, 'apt.log')], { encoding: 'utf8' })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`chromium (${join(dir, 'missing')}`)
    expect(result.stderr).toMatch(/apt-get update && .*apt-get install -y chromium/)
  })

  it('as a process: redis-server (for the durable-pipeline tests) missing too is named in the same command', () => {
    const result = spawnSync(process.execPath, [SCRIPT, '--chromium', join(dir, 'missing'), '--redis-server', join(dir, 'no-redis'), '--apt-get', join(dir, 'no-apt-get'), '--log', join(dir, 'apt.log')], { encoding: 'utf8' })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`redis-server (${join(dir, 'no-redis')}, for the durable-pipeline tests`)
    expect(result.stderr).toMatch(/apt-get install -y chromium redis-server/)
  })
})
