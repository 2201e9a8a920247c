import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir, issueIntoDir } from '../../../src/certs/files.ts'
import { CertificateError, ConfigError, FileExistsError } from '../../../src/errors.ts'

const NAMES = ['node', 'client', 'admin']
const FILES = ['ca.crt', 'ca/ca.key', ...NAMES.flatMap(n => [`${n}.crt`, `${n}.key`])]

let root: string
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'gridd-files-')) })
afterEach(async () => { await rm(root, { recursive: true, force: true }) })

async function snapshot (dir: string, files: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const f of files) out[f] = await readFile(join(dir, f), 'utf8')
  return out
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => { throw new Error('expected a rejection') }, (e: unknown) => e)
}

function cert (pem: string): X509Certificate { return new X509Certificate(pem) }

describe('initCertsDir', () => {
  it('writes ca, node and client certificates and keys', async () => {
    const dir = join(root, 'certs')
    const result = await initCertsDir(dir)
    expect(result.dir).toBe(dir)
    expect(result.files.map(f => f.slice(dir.length + 1)).sort()).toEqual([...FILES].sort())
    const files = await snapshot(dir, FILES)
    const ca = cert(files['ca.crt']!)
    expect(ca.ca).toBe(true)
    for (const name of ['node', 'client']) {
      const x = cert(files[`${name}.crt`]!)
      expect(x.subject).toContain(`CN=${name}`)
      expect(x.verify(ca.publicKey)).toBe(true)
      expect(files[`${name}.key`]).toContain('-----BEGIN PRIVATE KEY-----')
    }
  })

  it('makes key files 0600 and certificates 0644', async () => {
    await initCertsDir(root)
    for (const name of NAMES) {
      expect((await stat(join(root, `${name}.key`))).mode & 0o777).toBe(0o600)
      expect((await stat(join(root, `${name}.crt`))).mode & 0o777).toBe(0o644)
    }
  })

  it('refuses to run twice and leaves the files untouched', async () => {
    await initCertsDir(root)
    const before = await snapshot(root, FILES)
    const err = await rejection(initCertsDir(root))
    expect(err).toBeInstanceOf(FileExistsError)
    expect((err as FileExistsError).code).toBe('ERR_FILE_EXISTS')
    expect(await snapshot(root, FILES)).toEqual(before)
  })

  it('refuses when any one of the files exists', async () => {
    await writeFile(join(root, 'client.key'), 'mine')
    const err = await rejection(initCertsDir(root))
    expect(err).toBeInstanceOf(FileExistsError)
    expect((err as FileExistsError).path).toBe(join(root, 'client.key'))
    expect(await readFile(join(root, 'client.key'), 'utf8')).toBe('mine')
  })

  it('overwrites with force: true (a new CA)', async () => {
    await initCertsDir(root)
    const before = await snapshot(root, FILES)
    await initCertsDir(root, { force: true })
    const after = await snapshot(root, FILES)
    for (const f of FILES) expect(after[f]).not.toBe(before[f])
    expect(cert(after['node.crt']!).verify(cert(after['ca.crt']!).publicKey)).toBe(true)
    expect((await stat(join(root, 'ca/ca.key'))).mode & 0o777).toBe(0o600)
  })

  it('gives each certificate its roles as SAN URIs, and keeps the CA key in a 0700 directory of its own', async () => {
    await initCertsDir(root)
    expect(cert(await readFile(join(root, 'node.crt'), 'utf8')).subjectAltName).toBe('DNS:node, URI:urn:gridd:role:member, URI:urn:gridd:role:agent')
    expect(cert(await readFile(join(root, 'client.crt'), 'utf8')).subjectAltName).toBe('DNS:client, URI:urn:gridd:role:client')
    expect(cert(await readFile(join(root, 'admin.crt'), 'utf8')).subjectAltName).toBe('DNS:admin, URI:urn:gridd:role:admin')
    expect((await stat(join(root, 'ca'))).mode & 0o777).toBe(0o700)
    await expect(stat(join(root, 'ca.key'))).rejects.toThrow(/ENOENT/)
  })
})

describe('issueIntoDir', () => {
  beforeEach(async () => { await initCertsDir(root) })

  it('issues <name> signed by the CA in the directory', async () => {
    const result = await issueIntoDir(root, 'worker-7')
    expect(result.files).toEqual([join(root, 'worker-7.crt'), join(root, 'worker-7.key')])
    const ca = cert(await readFile(join(root, 'ca.crt'), 'utf8'))
    const x = cert(await readFile(join(root, 'worker-7.crt'), 'utf8'))
    expect(x.subjectAltName).toBe('DNS:worker-7, URI:urn:gridd:role:member')
    expect(x.checkIssued(ca)).toBe(true)
    expect(x.verify(ca.publicKey)).toBe(true)
    expect((await stat(join(root, 'worker-7.key'))).mode & 0o777).toBe(0o600)
  })

  it('throws CertificateError without a CA', async () => {
    const empty = await mkdtemp(join(root, 'empty-'))
    const err = await rejection(issueIntoDir(empty, 'x'))
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as CertificateError).code).toBe('ERR_CERTIFICATE')
    expect((err as Error).message).toContain('grid certs init')
  })

  it('refuses an existing name without force, replaces it with force', async () => {
    const before = await readFile(join(root, 'node.crt'), 'utf8')
    const err = await rejection(issueIntoDir(root, 'node'))
    expect(err).toBeInstanceOf(FileExistsError)
    expect((err as FileExistsError).code).toBe('ERR_FILE_EXISTS')
    expect(await readFile(join(root, 'node.crt'), 'utf8')).toBe(before)
    await issueIntoDir(root, 'node', { force: true })
    expect(await readFile(join(root, 'node.crt'), 'utf8')).not.toBe(before)
  })

  it.each([{ force: false }, { force: true }])('refuses the name "ca" (%o)', async (options) => {
    const before = await snapshot(root, ['ca.crt', 'ca/ca.key'])
    const err = await rejection(issueIntoDir(root, 'ca', options))
    expect(err).toBeInstanceOf(CertificateError)
    expect(await snapshot(root, ['ca.crt', 'ca/ca.key'])).toEqual(before)
  })

  it.each(['../escape', 'a b', ''])('rejects the bad name %j', async (name) => {
    const err = await rejection(issueIntoDir(root, name))
    expect(err).toBeInstanceOf(ConfigError)
  })

  it('honours validityDays', async () => {
    await issueIntoDir(root, 'short', { validityDays: 2 })
    const x = cert(await readFile(join(root, 'short.crt'), 'utf8'))
    const days = (x.validToDate.getTime() - Date.now()) / 86_400_000
    expect(days).toBeGreaterThan(1.99)
    expect(days).toBeLessThanOrEqual(2)
  })
})
