import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm, writeFile, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readModule } from '../../../src/owner/module-source.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'

describe('readModule: a stage bundled with its relative imports', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-module-source-'))
    await writeFile(join(dir, 'entry.ts'), "import { f } from './helper.mjs'\nimport { join } from 'node:path'\nimport pino from 'pino'\nexport default (x: string): string => f(join(x, typeof pino))\n")
    await writeFile(join(dir, 'helper.mjs'), 'export const f = (s) => `helper:${s}`\n')
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('inlines relative imports, keeps bare ones as imports, hashes the bundle', async () => {
    const module = await readModule(join(dir, 'entry.ts'), 'entry')
    expect(module.path).toBe(join(dir, 'entry.ts'))
    expect(module.source).toContain('helper:')
    expect(module.source).toMatch(/from "node:path"/)
    expect(module.source).toMatch(/from "pino"/)
    expect(module.source).not.toContain(': string')
    expect(module.sha256).toBe(sha256(module.source))
  })

  it('reuses the bundle while no input changed, rebuilds when a helper did', async () => {
    const first = await readModule(join(dir, 'entry.ts'))
    expect(await readModule(join(dir, 'entry.ts'))).toBe(first)
    await writeFile(join(dir, 'helper.mjs'), 'export const f = (s) => `changed:${s}`\n')
    const later = new Date(Date.now() + 5_000)
    await utimes(join(dir, 'helper.mjs'), later, later)
    const second = await readModule(join(dir, 'entry.ts'))
    expect(second.source).toContain('changed:')
    expect(second.sha256).not.toBe(first.sha256)
  })

  it('refuses what a worker cannot import, before bundling', async () => {
    await expect(readModule(join(dir, 'stage.py'))).rejects.toMatchObject({ code: 'ERR_CONFIG', option: 'module' })
    await expect(readModule(join(dir, 'absent.ts'))).rejects.toMatchObject({ code: 'ERR_CONFIG', option: 'module' })
  })
})
