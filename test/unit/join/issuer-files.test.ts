import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir } from '../../../src/certs/files.ts'
import { readIssuerFiles } from '../../../src/join/files.ts'
import { CertificateError } from '../../../src/errors.ts'

describe('grid node --ca-key FILE: a key file it cannot use is one line naming it, not a stack trace', () => {
  let dir: string
  let caCert: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-issuer-files-'))
    await initCertsDir(dir)
    caCert = await readFile(join(dir, 'ca.crt'), 'utf8')
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads the CA key and the tokens beside it', async () => {
    const { key, tokens } = await readIssuerFiles(join(dir, 'ca', 'ca.key'), caCert)
    expect(key).toMatch(/PRIVATE KEY/)
    expect(tokens.path).toBe(join(dir, 'ca', 'tokens.json'))
  })

  it('a missing file (the layout before roles typed for the current one): CertificateError naming --ca-key and the file', async () => {
    const missing = join(dir, 'ca.key')
    const err = await readIssuerFiles(missing, caCert).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as Error).message).toContain(`--ca-key ${missing}`)
  })

  it('a file that is no private key (the CA certificate): CertificateError naming it', async () => {
    const err = await readIssuerFiles(join(dir, 'ca.crt'), caCert).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as Error).message).toContain(`--ca-key ${join(dir, 'ca.crt')}`)
  })

  it('another key (the node\'s own): refused as not this grid\'s CA key', async () => {
    await expect(readIssuerFiles(join(dir, 'node.key'), caCert)).rejects.toThrow(CertificateError)
  })
})
