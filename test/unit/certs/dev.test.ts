import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { devCerts } from '../../../src/certs/dev.ts'
import { createCa } from '../../../src/certs/create.ts'
import { writePair } from '../../../src/certs/files.ts'
import { ERR_UNSAFE_DEV_CERTS } from '../../../src/errors.ts'

const isRoot = process.getuid?.() === 0

describe('devCerts: the --dev CA in a predictable temp dir is used only when it is this user\'s alone', () => {
  let root: string
  let dir: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'gridd-dev-test-'))
    dir = join(root, 'gridd-dev-x')
  })
  afterEach(async () => { await rm(root, { recursive: true, force: true }) })

  /** A CA planted at `dir` as another local user would: the victim's node must not trust it. */
  async function plant (mode: number): Promise<string> {
    await mkdir(dir)
    const ca = await createCa({ commonName: 'planted' })
    await writePair(dir, 'ca', ca, false)
    await chmod(dir, mode)
    return ca.cert
  }

  it('makes the directory 0700 and the keys 0600, and reuses them on the next call', async () => {
    const first = await devCerts('n1', dir)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'n1.key'))).mode & 0o777).toBe(0o600)
    const again = await devCerts('n1', dir)
    expect(again.ca).toBe(first.ca)
    expect(again.cert).toBe(first.cert)
  })

  it('without a name: a throwaway identity, issued by the dev CA and kept in memory only (no file no later start could reuse)', async () => {
    const throwaway = await devCerts(undefined, dir)
    expect(throwaway.throwaway).toBe(true)
    expect(throwaway.name).toMatch(/^node-[0-9a-f]{8}$/)
    expect(new X509Certificate(throwaway.cert).checkIssued(new X509Certificate(throwaway.ca))).toBe(true)
    expect((await readdir(dir)).sort()).toEqual(['ca.crt', 'ca.key'])
    expect((await devCerts(undefined, dir)).cert).not.toBe(throwaway.cert)
  })

  it('refuses a directory others may write to (mode 0777) holding a CA', async () => {
    const planted = await plant(0o777)
    await expect(devCerts('n1', dir)).rejects.toMatchObject({ code: ERR_UNSAFE_DEV_CERTS, message: expect.stringContaining('mode 0777') })
    // nothing issued under the planted CA
    await expect(stat(join(dir, 'n1.crt'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readFile(join(dir, 'ca.crt'), 'utf8')).toBe(planted)
  })

  it('refuses a directory others may only list (0755)', async () => {
    await plant(0o755)
    await expect(devCerts('n1', dir)).rejects.toMatchObject({ code: ERR_UNSAFE_DEV_CERTS })
  })

  it.runIf(isRoot)('refuses a 0700 directory owned by another user (nobody, uid 65534)', async () => {
    await plant(0o700)
    await chown(dir, 65534, 65534)
    await expect(devCerts('n1', dir)).rejects.toMatchObject({ code: ERR_UNSAFE_DEV_CERTS, message: expect.stringContaining('owned by uid 65534') })
  })

  it('refuses a symbolic link to a directory, even one of this user', async () => {
    const real = join(root, 'real')
    await devCerts('n1', real)
    await symlink(real, dir)
    await expect(devCerts('n1', dir)).rejects.toMatchObject({ code: ERR_UNSAFE_DEV_CERTS, message: expect.stringContaining('symbolic link') })
  })

  it('refuses a CA key or a node key that group or others may read, and a key that is a symbolic link', async () => {
    await devCerts('n1', dir)
    await chmod(join(dir, 'ca.key'), 0o640)
    await expect(devCerts('n1', dir)).rejects.toMatchObject({ code: ERR_UNSAFE_DEV_CERTS, message: expect.stringContaining('ca.key') })
    await chmod(join(dir, 'ca.key'), 0o600)
    await chmod(join(dir, 'n1.key'), 0o644)
    await expect(devCerts('n1', dir)).rejects.toMatchObject({ code: ERR_UNSAFE_DEV_CERTS, message: expect.stringContaining('n1.key') })
    await chmod(join(dir, 'n1.key'), 0o600)
    const elsewhere = join(root, 'key.pem')
    await writeFile(elsewhere, await readFile(join(dir, 'n1.key')), { mode: 0o600 })
    await rm(join(dir, 'n1.key'))
    await symlink(elsewhere, join(dir, 'n1.key'))
    await expect(devCerts('n1', dir)).rejects.toMatchObject({ code: ERR_UNSAFE_DEV_CERTS, message: expect.stringContaining('symbolic link') })
    // the certificates themselves may be world-readable
    await rm(join(dir, 'n1.key'))
    await rm(join(dir, 'n1.crt'))
    const ok = await devCerts('n1', dir)
    expect(new X509Certificate(ok.cert).subject).toBe('CN=n1')
  })
})
