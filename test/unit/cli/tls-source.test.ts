import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir, issueIntoDir } from '../../../src/certs/files.ts'
import { requireTls, resolveTlsSource } from '../../../src/cli/tls-source.ts'
import type { TlsFlags } from '../../../src/cli/tls-source.ts'
import { CertificateError, CertsNotFoundError, ConfigError, KeyPermissionsError } from '../../../src/errors.ts'
import { readableCaKeys } from '../../../src/cli/key-file.ts'

type Env = Record<string, string | undefined>
let root: string
let flagsDir: string
let certsDir: string
let envDir: string
let cwd: string
let emptyCwd: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gridd-tls-source-'))
  flagsDir = join(root, 'flags')
  certsDir = join(root, 'dir')
  envDir = join(root, 'env')
  cwd = join(root, 'cwd')
  emptyCwd = join(root, 'empty')
  for (const d of [flagsDir, certsDir, envDir, join(cwd, 'certs')]) await initCertsDir(d)
  await issueIntoDir(certsDir, 'b')
  await mkdir(emptyCwd)
})
afterAll(async () => { await rm(root, { recursive: true, force: true }) })

const read = async (dir: string, file: string): Promise<string> => await readFile(join(dir, file), 'utf8')
const flagsFor = (dir: string, name = 'node'): TlsFlags => ({ ca: join(dir, 'ca.crt'), cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) })
const envFor = (dir: string, name = 'node'): Env => ({ GRID_TLS_CA: join(dir, 'ca.crt'), GRID_TLS_CERT: join(dir, `${name}.crt`), GRID_TLS_KEY: join(dir, `${name}.key`) })

async function expectPair (tls: { ca: string, cert: string, key: string }, dir: string, name: string): Promise<void> {
  expect(tls.ca).toBe(await read(dir, 'ca.crt'))
  expect(tls.cert).toBe(await read(dir, `${name}.crt`))
  expect(tls.key).toBe(await read(dir, `${name}.key`))
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => { throw new Error('expected a rejection') }, (e: unknown) => e)
}

describe('resolveTlsSource precedence', () => {
  const cases: Array<[string, () => TlsFlags, () => Env, () => string, string, () => string]> = [
    ['flags over everything', () => ({ ...flagsFor(flagsDir), certs: certsDir }), () => envFor(envDir), () => cwd, 'flags', () => flagsDir],
    ['--certs over env and cwd', () => ({ certs: certsDir }), () => envFor(envDir), () => cwd, 'certs-dir', () => certsDir],
    ['env over cwd', () => ({}), () => envFor(envDir), () => cwd, 'env', () => envDir],
    ['cwd/certs last', () => ({}), () => ({}), () => cwd, 'cwd', () => join(cwd, 'certs')]
  ]
  it.each(cases)('%s', async (_label, flags, env, dir, source, expected) => {
    const found = await resolveTlsSource(flags(), env(), dir(), 'node')
    expect(found?.source).toBe(source)
    await expectPair(found!.tls, expected(), 'node')
    expect(found!.tls.outbound).toBeUndefined()
  })

  it('returns undefined when nothing is configured', async () => {
    expect(await resolveTlsSource({}, {}, emptyCwd, 'node')).toBeUndefined()
    expect(await resolveTlsSource({ name: 'b' }, {}, cwd, 'node')).toBeUndefined()
  })

  it('resolves a relative --certs against cwd', async () => {
    const found = await resolveTlsSource({ certs: 'dir' }, {}, root, 'node')
    expect(found?.source).toBe('certs-dir')
    await expectPair(found!.tls, certsDir, 'node')
  })

  it('--name picks DIR/<name>.crt', async () => {
    const found = await resolveTlsSource({ certs: certsDir, name: 'b' }, {}, emptyCwd, 'node')
    await expectPair(found!.tls, certsDir, 'b')
  })

  it('defaultName picks the file in --certs and ./certs', async () => {
    await expectPair((await resolveTlsSource({ certs: certsDir }, {}, emptyCwd, 'client'))!.tls, certsDir, 'client')
    await expectPair((await resolveTlsSource({}, {}, cwd, 'client'))!.tls, join(cwd, 'certs'), 'client')
  })

  it('a missing --name in --certs is a CertificateError', async () => {
    expect(await rejection(resolveTlsSource({ certs: certsDir, name: 'ghost' }, {}, emptyCwd, 'node'))).toBeInstanceOf(CertificateError)
  })
})

describe('resolveTlsSource partial configuration', () => {
  it.each([
    [{ ca: 'x' }],
    [{ cert: 'x', key: 'y' }],
    [{ ca: 'x', cert: 'y', certs: 'z' }]
  ])('flags %o → ConfigError', async (flags) => {
    const err = await rejection(resolveTlsSource(flags, envFor(envDir), cwd, 'node'))
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).option).toBe('--ca/--cert/--key')
  })

  it.each(['GRID_TLS_CA', 'GRID_TLS_CERT', 'GRID_TLS_KEY'])('env without %s → ConfigError', async (missing) => {
    const env = { ...envFor(envDir), [missing]: undefined }
    const err = await rejection(resolveTlsSource({}, env, cwd, 'node'))
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).code).toBe('ERR_CONFIG')
  })
})

describe('resolveTlsSource environment', () => {
  it('accepts PEM text as well as paths', async () => {
    const env = { GRID_TLS_CA: await read(envDir, 'ca.crt'), GRID_TLS_CERT: await read(envDir, 'node.crt'), GRID_TLS_KEY: join(envDir, 'node.key') }
    const found = await resolveTlsSource({}, env, emptyCwd, 'node')
    expect(found?.source).toBe('env')
    await expectPair(found!.tls, envDir, 'node')
  })

  it('node: SERVER pair overrides CERT/KEY, CLIENT pair becomes outbound', async () => {
    const env: Env = {
      ...envFor(envDir, 'client'),
      GRID_TLS_SERVER_CERT: join(envDir, 'node.crt'),
      GRID_TLS_SERVER_KEY: join(envDir, 'node.key'),
      GRID_TLS_CLIENT_CERT: join(envDir, 'client.crt'),
      GRID_TLS_CLIENT_KEY: join(envDir, 'client.key')
    }
    const found = await resolveTlsSource({}, env, emptyCwd, 'node')
    await expectPair(found!.tls, envDir, 'node')
    expect(found!.tls.outbound).toEqual({ cert: await read(envDir, 'client.crt'), key: await read(envDir, 'client.key') })
  })

  it('client: CLIENT pair is the main pair, SERVER pair is ignored', async () => {
    const env: Env = {
      ...envFor(envDir, 'node'),
      GRID_TLS_SERVER_CERT: join(envDir, 'node.crt'),
      GRID_TLS_SERVER_KEY: join(envDir, 'node.key'),
      GRID_TLS_CLIENT_CERT: join(envDir, 'client.crt'),
      GRID_TLS_CLIENT_KEY: join(envDir, 'client.key')
    }
    const found = await resolveTlsSource({}, env, emptyCwd, 'client')
    await expectPair(found!.tls, envDir, 'client')
    expect(found!.tls.outbound).toBeUndefined()
  })

  it('half a CLIENT pair, or only a CLIENT pair for a node, is a ConfigError, not silently ignored', async () => {
    const half = { ...envFor(envDir), GRID_TLS_CLIENT_CERT: join(envDir, 'client.crt') }
    expect(await rejection(resolveTlsSource({}, half, emptyCwd, 'node'))).toBeInstanceOf(ConfigError)
    const onlyClient = { GRID_TLS_CLIENT_CERT: join(envDir, 'client.crt'), GRID_TLS_CLIENT_KEY: join(envDir, 'client.key') }
    expect(await rejection(resolveTlsSource({}, onlyClient, emptyCwd, 'node'))).toBeInstanceOf(ConfigError)
  })

  it('a missing env path is a CertificateError naming it', async () => {
    const env = { ...envFor(envDir), GRID_TLS_KEY: join(envDir, 'nope.key') }
    const err = await rejection(resolveTlsSource({}, env, emptyCwd, 'node'))
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as Error).message).toContain('nope.key')
  })
})

describe('requireTls', () => {
  it('throws CertsNotFoundError pointing at `grid certs init`', async () => {
    const err = await rejection(requireTls({}, {}, emptyCwd, 'client'))
    expect(err).toBeInstanceOf(CertsNotFoundError)
    expect((err as CertsNotFoundError).code).toBe('ERR_NO_CERTS')
    expect((err as Error).message).toContain('grid certs init')
  })

  it('returns what resolveTlsSource found', async () => {
    const found = await requireTls({}, envFor(envDir, 'client'), emptyCwd, 'client')
    expect(found.source).toBe('env')
    await expectPair(found.tls, envDir, 'client')
  })
})

describe('private key file permissions (OpenSSH\'s rule)', () => {
  let loose: string
  beforeAll(async () => {
    loose = join(root, 'loose')
    await initCertsDir(loose)
  })
  afterEach(async () => { await chmod(join(loose, 'node.key'), 0o600) })

  const sources: Array<[string, () => Promise<unknown>]> = [
    ['--certs DIR', async () => await resolveTlsSource({ certs: loose }, {}, emptyCwd, 'node')],
    ['--key FILE', async () => await resolveTlsSource(flagsFor(loose), {}, emptyCwd, 'node')],
    ['GRID_TLS_KEY (a path)', async () => await resolveTlsSource({}, envFor(loose), emptyCwd, 'node')],
    ['GRID_TLS_CLIENT_KEY (a path)', async () => await resolveTlsSource({}, { ...envFor(loose, 'client'), GRID_TLS_SERVER_CERT: join(loose, 'client.crt'), GRID_TLS_SERVER_KEY: join(loose, 'client.key'), GRID_TLS_CLIENT_CERT: join(loose, 'node.crt'), GRID_TLS_CLIENT_KEY: join(loose, 'node.key') }, emptyCwd, 'node')]
  ]
  it.each(sources)('%s: a key readable by group or others is refused, naming the file and `chmod 600`', async (_label, load) => {
    for (const mode of [0o640, 0o604, 0o620, 0o644]) {
      await chmod(join(loose, 'node.key'), mode)
      const err = await rejection(load())
      expect(err, mode.toString(8)).toBeInstanceOf(KeyPermissionsError)
      expect((err as KeyPermissionsError).code).toBe('ERR_KEY_PERMISSIONS')
      expect((err as Error).message).toContain(`chmod 600 ${join(loose, 'node.key')}`)
      expect((err as Error).message).toContain(`permissions 0${mode.toString(8)}`)
    }
    await chmod(join(loose, 'node.key'), 0o400)
    // only its owner may read it: accepted
    expect(await load()).toBeDefined()
  })

  it('./certs: the same rule', async () => {
    const local = join(root, 'loose-cwd')
    await initCertsDir(join(local, 'certs'))
    await chmod(join(local, 'certs', 'node.key'), 0o644)
    expect(await rejection(resolveTlsSource({}, {}, local, 'node'))).toBeInstanceOf(KeyPermissionsError)
  })

  it('a key given as PEM text in the environment is not a file: no check', async () => {
    await chmod(join(loose, 'node.key'), 0o644)
    const env = { GRID_TLS_CA: join(loose, 'ca.crt'), GRID_TLS_CERT: join(loose, 'node.crt'), GRID_TLS_KEY: await read(loose, 'node.key') }
    expect((await resolveTlsSource({}, env, emptyCwd, 'node'))?.source).toBe('env')
  })

  it('says where the CA certificate came from, and finds the CA keys readable there', async () => {
    expect((await resolveTlsSource({ certs: loose }, {}, emptyCwd, 'node'))?.certsDir).toBe(loose)
    expect((await resolveTlsSource(flagsFor(loose), {}, emptyCwd, 'node'))?.certsDir).toBe(loose)
    expect((await resolveTlsSource({}, envFor(loose), emptyCwd, 'node'))?.certsDir).toBe(loose)
    const pemCa = { ...envFor(loose), GRID_TLS_CA: await read(loose, 'ca.crt') }
    expect((await resolveTlsSource({}, pemCa, emptyCwd, 'node'))?.certsDir).toBeUndefined()
    // `grid certs init` keeps it in ca/ca.key; a copy beside the node keys (the old layout) is found too
    expect(await readableCaKeys(loose)).toEqual([join(loose, 'ca', 'ca.key')])
    await writeFile(join(loose, 'ca.key'), await readFile(join(loose, 'ca', 'ca.key'), 'utf8'), { mode: 0o600 })
    expect(await readableCaKeys(loose)).toEqual([join(loose, 'ca.key'), join(loose, 'ca', 'ca.key')])
    expect(await readableCaKeys(emptyCwd)).toEqual([])
  })
})
