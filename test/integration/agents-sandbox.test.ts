import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { GridNode } from '../../src/node.ts'
import { sha256 } from '../../src/wire/module-ref.ts'
import { GridFixture, FAST } from './helpers/grid-fixture.ts'
import { startNode } from './helpers/grid-process.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { RawRequester } from './helpers/raw-spawn.ts'
import { cleanup } from './helpers/cleanup.ts'

/** A package named `name` whose default export is `value`, in `dir`/node_modules. */
async function installPackage (dir: string, name: string, value: string): Promise<void> {
  const root = join(dir, 'node_modules', name)
  await mkdir(root, { recursive: true })
  await writeFile(join(root, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', exports: './index.js' }))
  await writeFile(join(root, 'index.js'), `export default ${JSON.stringify(value)}\n`)
}

const importing = (pkg: string): string => `import value from '${pkg}'\nexport default () => value\n`

describe('code shipping sandbox: an agent runs shipped bundles from its cache or files in its --module-dir, nothing else', () => {
  // one name for every planted package: the agent must never find it, wherever it was planted
  const planted = `gridd-planted-${randomBytes(4).toString('hex')}`
  const tmpModules = join(tmpdir(), 'node_modules')
  let createdTmpModules = false
  let grid: GridFixture
  let agent: GridProcess
  let member: GridNode
  let raw: RawRequester
  let holder: string
  let agentCwd: string
  let moduleDir: string
  let outside: string
  let requesterDir: string

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    holder = await mkdtemp(join(tmpdir(), 'gridd-sandbox-holder-'))
    agentCwd = await mkdtemp(join(tmpdir(), 'gridd-sandbox-cwd-'))
    moduleDir = await mkdtemp(join(tmpdir(), 'gridd-sandbox-moduledir-'))
    outside = await mkdtemp(join(tmpdir(), 'gridd-sandbox-outside-'))
    requesterDir = await mkdtemp(join(tmpdir(), 'gridd-sandbox-requester-'))
    // planted by "another local user": beside the data dir, and in the shared temp dir
    await installPackage(holder, planted, 'planted beside the data dir')
    createdTmpModules = !existsSync(tmpModules)
    await installPackage(tmpdir(), planted, 'planted in the temp dir')
    // the agent's own packages (its working directory), and the operator's deployed code
    await installPackage(agentCwd, 'agent-own-pkg', 'from the agent\'s own packages')
    await installPackage(moduleDir, 'deployed-dep', 'from the module dir')
    await writeFile(join(moduleDir, 'deployed.mjs'), importing('deployed-dep'))
    // a file on the agent's disk that writes a marker if it is ever imported
    await writeFile(join(outside, 'evil.mjs'), `import { writeFileSync } from 'node:fs'\nwriteFileSync(${JSON.stringify(join(outside, 'imported'))}, 'yes')\nexport default () => 'evil'\n`)
    await symlink(join(outside, 'evil.mjs'), join(moduleDir, 'escape.mjs'))
    await writeFile(join(requesterDir, 'uses-planted.mjs'), importing(planted))
    await writeFile(join(requesterDir, 'uses-own.mjs'), importing('agent-own-pkg'))
    agent = await startNode(['--certs', grid.dir, '--name', 'n1', ...FAST, '--agent', '--workers', '4', '--data-dir', join(holder, 'data'), '--module-dir', moduleDir], {}, agentCwd)
    grid.nodes.push(agent)
    member = await grid.member('n2', agent, 1)
    raw = await RawRequester.connect(grid, 'n3', agent)
  })

  afterAll(async () => {
    await cleanup(
      async () => await grid?.close(),
      async () => { for (const dir of [holder, agentCwd, moduleDir, outside, requesterDir]) if (dir != null) await rm(dir, { recursive: true, force: true }) },
      async () => { await rm(createdTmpModules ? tmpModules : join(tmpModules, planted), { recursive: true, force: true }) }
    )
  })

  it('a file on the agent\'s disk named by a requester (hash matching, nothing shipped) is not imported: ERR_MODULE_MISSING', async () => {
    const evil = join(outside, 'evil.mjs')
    const { readFile } = await import('node:fs/promises')
    const reply = await raw.spawn(agent, { path: evil, sha256: sha256(await readFile(evil, 'utf8')) })
    expect(reply).toMatchObject({ ok: false, code: 'ERR_MODULE_MISSING' })
    expect(existsSync(join(outside, 'imported'))).toBe(false)
  })

  it('a shipped bundle\'s bare import never resolves beside the path the requester named (a package there is not imported)', async () => {
    const besidePkg = join(outside, 'node_modules', 'beside-pkg')
    await mkdir(besidePkg, { recursive: true })
    await writeFile(join(besidePkg, 'package.json'), JSON.stringify({ name: 'beside-pkg', type: 'module', exports: './index.js' }))
    await writeFile(join(besidePkg, 'index.js'), `import { writeFileSync } from 'node:fs'\nwriteFileSync(${JSON.stringify(join(outside, 'beside-imported'))}, 'yes')\nexport default 1\n`)
    const source = importing('beside-pkg')
    const mark = agent.mark()
    const reply = await raw.spawn(agent, { path: join(outside, 'stage.mjs'), sha256: sha256(source), source })
    expect(reply).toMatchObject({ ok: true })
    const id = reply.ok ? reply.worker?.id : undefined
    // the worker fails its import and exits at once; its exit is logged
    await agent.waitFor(l => l.msg === 'worker exited' && l.worker === id, 10_000, mark)
    expect(existsSync(join(outside, 'beside-imported'))).toBe(false)
    // attaching after that exit still tells the requester why it ended (not "no such worker")
    const late = await raw.attach(agent, id ?? '')
    expect(late).toMatchObject({ type: 'exit', exit: { error: { code: 'ERR_MODULE_NOT_FOUND' } } })
  })

  it('a path inside a --module-dir that leads out of it (symbolic link) is refused: ERR_MODULE_NOT_ALLOWED', async () => {
    const reply = await raw.spawn(agent, { path: join(moduleDir, 'escape.mjs'), sha256: 'a'.repeat(64) })
    expect(reply).toMatchObject({ ok: false, code: 'ERR_MODULE_NOT_ALLOWED' })
    if (!reply.ok) expect(reply.error.message).toContain('outside the allowed module dirs')
    expect(existsSync(join(outside, 'imported'))).toBe(false)
  })

  it('a shipped stage\'s bare import never resolves from a node_modules beside the data dir or in the temp dir', async () => {
    const worker = await member.workers.spawn({ stage: 'planted', module: join(requesterDir, 'uses-planted.mjs') })
    const err = await worker.process(1).then(() => undefined, (e: unknown) => e as Error & { cause?: Error })
    expect(err).toMatchObject({ code: 'ERR_STAGE_SETUP' })
    expect(err?.cause).toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' })
    expect(err?.cause?.message).toContain(`Cannot find package '${planted}'`)
    expect(err?.cause?.message).toContain(join(agentCwd, 'node_modules'))
  })

  it('...and resolves from the agent\'s own packages (its working directory)', async () => {
    const worker = await member.workers.spawn({ stage: 'own', module: join(requesterDir, 'uses-own.mjs') })
    expect(await worker.process(1)).toBe('from the agent\'s own packages')
    await worker.kill()
  })

  it('a stage in a --module-dir runs in place (nothing cached), its imports resolved beside it', async () => {
    const before = await readdir(join(holder, 'data', 'modules'))
    const mark = agent.mark()
    const worker = await member.workers.spawn({ stage: 'deployed', module: join(moduleDir, 'deployed.mjs') })
    expect(await worker.process(1)).toBe('from the module dir')
    await worker.kill()
    const spawned = await agent.waitFor(l => l.msg === 'spawned for a remote requester', 5000, mark)
    expect(spawned.module).toBe('module-dir')
    expect(await readdir(join(holder, 'data', 'modules'))).toEqual(before)
  })
})
