import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { moduleInDirs, resolveModuleDirs } from '../../../src/agent/module-dirs.ts'
import { ownPackageRoots } from '../../../src/agent/package-roots.ts'
import { packageName } from '../../../src/worker/shipped-module.ts'

describe('module dirs: which requester-named files an agent may run in place', () => {
  let base: string
  let dir: string

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'gridd-module-dirs-')))
    dir = join(base, 'app')
    await mkdir(join(dir, 'stages'), { recursive: true })
    await writeFile(join(dir, 'stages', 'a.mjs'), 'export default 1')
    await writeFile(join(base, 'outside.mjs'), 'export default 2')
    await symlink(join(base, 'outside.mjs'), join(dir, 'escape.mjs'))
    await symlink(join(dir, 'stages', 'a.mjs'), join(dir, 'inner-link.mjs'))
  })

  afterAll(async () => {
    await rm(base, { recursive: true, force: true })
  })

  it('a file inside runs in place; outside, missing or relative: undefined (the path is only a label)', async () => {
    const dirs = await resolveModuleDirs([dir])
    expect(await moduleInDirs(join(dir, 'stages', 'a.mjs'), dirs)).toBe(join(dir, 'stages', 'a.mjs'))
    expect(await moduleInDirs(join(dir, 'inner-link.mjs'), dirs)).toBe(join(dir, 'stages', 'a.mjs'))
    expect(await moduleInDirs(join(base, 'outside.mjs'), dirs)).toBeUndefined()
    expect(await moduleInDirs(join(dir, '..', 'outside.mjs'), dirs)).toBeUndefined()
    expect(await moduleInDirs(join(dir, 'missing.mjs'), dirs)).toBeUndefined()
    expect(await moduleInDirs('stages/a.mjs', dirs)).toBeUndefined()
  })

  it('a path inside that leads out (symbolic link), or a directory: ERR_MODULE_NOT_ALLOWED', async () => {
    const dirs = await resolveModuleDirs([dir])
    await expect(moduleInDirs(join(dir, 'escape.mjs'), dirs)).rejects.toMatchObject({ code: 'ERR_MODULE_NOT_ALLOWED' })
    await expect(moduleInDirs(join(dir, 'stages'), dirs)).rejects.toMatchObject({ code: 'ERR_MODULE_NOT_ALLOWED' })
  })

  it('a module dir that does not exist is a ConfigError naming agent.moduleDirs', async () => {
    await expect(resolveModuleDirs([join(base, 'nope')])).rejects.toMatchObject({ code: 'ERR_CONFIG', option: 'agent.moduleDirs' })
  })
})

describe('the agent\'s own packages: where bare imports of shipped bundles resolve', () => {
  it('the working directory and gridd\'s own, with ancestors up to the first one others can write to', async () => {
    const cwd = await realpath(await mkdtemp(join(tmpdir(), 'gridd-roots-')))
    try {
      const roots = await ownPackageRoots(cwd)
      expect(roots[0]).toBe(cwd)
      // the temp dir is world-writable (sticky): never a root
      expect(roots).not.toContain(await realpath(tmpdir()))
      expect(roots).toContain(process.cwd())
    } finally {
      await rm(cwd, { recursive: true, force: true })
    }
  })

  it('package names of bare specifiers', () => {
    expect(packageName('lodash')).toBe('lodash')
    expect(packageName('lodash/fp')).toBe('lodash')
    expect(packageName('@scope/pkg/sub/path')).toBe('@scope/pkg')
  })
})
