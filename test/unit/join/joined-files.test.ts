import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCa, issueCertificate } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { joinedCertsDir, loadJoined, storeJoined } from '../../../src/join/files.ts'
import { certificateHash } from '../../../src/join/token.ts'
import type { JoinToken } from '../../../src/join/token.ts'
import { CertificateError } from '../../../src/errors.ts'

const DAY_MS = 86_400_000

describe('grid node --join: the certificate of an earlier join, kept in the data dir', () => {
  let root: string
  let ca: CertKeyPair
  let token: JoinToken

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'gridd-joined-files-'))
    ca = await createCa()
    token = { id: '0123456789abcdef', secret: 'x'.repeat(43), caHash: certificateHash(ca.cert) }
  })

  afterAll(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('is reused while valid', async () => {
    const dataDir = join(root, 'valid')
    const pair = await issueCertificate(ca, { name: 'w1', roles: ['member', 'agent'] })
    await storeJoined(dataDir, { ca: ca.cert, ...pair })
    expect((await loadJoined(dataDir, token))?.cert).toBe(pair.cert)
  })

  it('expired: refused naming the directory that holds it and how to join again, not as a certificate of unknown origin', async () => {
    const dataDir = join(root, 'expired')
    const pair = await issueCertificate(ca, { name: 'w1', roles: ['member', 'agent'], notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) })
    await storeJoined(dataDir, { ca: ca.cert, ...pair })
    const err = await loadJoined(dataDir, token).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(CertificateError)
    expect((err as Error).message).toContain(joinedCertsDir(dataDir))
    expect((err as Error).message).toMatch(/expired on/)
    expect((err as Error).message).toMatch(/move it away/)
  })
})
