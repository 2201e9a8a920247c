import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { prepareDataDir } from '../../src/data-dir.ts'
import { ConfigError } from '../../src/errors.ts'

const log = pino({ level: 'silent' })

describe('prepareDataDir: a path that cannot be a directory names --data-dir', () => {
  let base: string
  let file: string

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'gridd-data-dir-unit-'))
    file = join(base, 'a-file')
    await writeFile(file, 'not a directory')
  })

  afterAll(async () => { await rm(base, { recursive: true, force: true }) })

  it('a file where the dir should be: ConfigError on dataDir, not a raw EEXIST', async () => {
    const err = await prepareDataDir(file, log).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ option: 'dataDir', code: 'ERR_CONFIG' })
    expect((err as Error).message).toContain(`${file} exists and is not a directory`)
    expect((err as Error).message).toContain('--data-dir')
  })

  it('a file among its parents: ConfigError on dataDir, not a raw ENOTDIR', async () => {
    const dir = join(file, 'sub')
    const err = await prepareDataDir(dir, log).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err).toMatchObject({ option: 'dataDir' })
    expect((err as Error).message).toContain('part of its path is a file')
  })

  it('a new dir is still made, mode 0700', async () => {
    const dir = join(base, 'new', 'deeper')
    await prepareDataDir(dir, log)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
  })
})

describe('prepareDataDir with checkOnly (--join checks the dir before the agent sets its mode)', () => {
  let base: string
  beforeAll(async () => { base = await mkdtemp(join(tmpdir(), 'gridd-data-dir-check-')) })
  afterAll(async () => { await rm(base, { recursive: true, force: true }) })

  it('leaves an agent\'s 0710 dir as it is (it was set to 0700, then back to 0710, at every start), and still refuses one others can write to', async () => {
    const dir = join(base, 'agent')
    await prepareDataDir(dir, log)
    await chmod(dir, 0o710)
    await prepareDataDir(dir, log, { checkOnly: true })
    expect((await stat(dir)).mode & 0o777).toBe(0o710)
    await chmod(dir, 0o777)
    await expect(prepareDataDir(dir, log, { checkOnly: true })).rejects.toBeInstanceOf(ConfigError)
  })
})
