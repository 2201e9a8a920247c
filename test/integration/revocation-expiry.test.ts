import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readCaPair, writePair } from '../../src/certs/files.ts'
import { issueCertificate } from '../../src/certs/create.ts'
import { readCrlFile, revokeInDir } from '../../src/certs/crl.ts'
import { normalizeSerial } from '../../src/transport/mtls/verify.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { runGrid } from './helpers/grid-process.ts'
import { refusedFor } from './helpers/revocation.ts'

const DAY_MS = 24 * 60 * 60 * 1000

describe('a CRL does not keep the entries of expired certificates for ever', () => {
  let grid: GridFixture

  beforeAll(async () => { grid = await GridFixture.create(2) })
  afterAll(async () => { await grid?.close() })

  it('grid certs revoke leaves out a certificate that expired 10 days ago, keeps one of unknown expiry, and the node still refuses the revoked valid one', async () => {
    const dir = grid.dir
    // a short-lived certificate revoked while it was valid, 15 days ago; it expired 10 days ago
    const gone = await issueCertificate(await readCaPair(dir), { name: 'gone', roles: ['member'], notBefore: new Date(Date.now() - 20 * DAY_MS), notAfter: new Date(Date.now() - 10 * DAY_MS) })
    await writePair(dir, 'gone', gone, false)
    const then = new Date(Date.now() - 15 * DAY_MS)
    await revokeInDir(dir, 'gone', then)
    // a bare serial: nothing says when its certificate ends, so it must stay
    const unknown = 'c0ffee0123456789'
    await revokeInDir(dir, unknown, then)

    const n1 = await grid.start('n1')
    const revoked = await runGrid(['certs', 'revoke', 'n2', '--dir', dir, '--peer', n1.address])
    expect(revoked.code, revoked.stderr).toBe(0)
    expect(revoked.stdout).toMatch(new RegExp(`CRL number 3, 2 revoked; 1 expired certificate no longer listed: ${normalizeSerial(new X509Certificate(gone.cert).serialNumber)}\\)`))
    expect(revoked.stdout).toMatch(/accepted CRL number 3/)
    const crl = (await readCrlFile(join(dir, 'crl.pem'), new X509Certificate((await readCaPair(dir)).cert)))!.crl
    const victim = normalizeSerial(new X509Certificate(await readFile(join(dir, 'n2.crt'), 'utf8')).serialNumber)
    expect(crl.entries.map(e => e.serial)).toEqual([unknown, victim])

    // the revoked certificate is still valid: the node refuses it at the handshake
    const since = n1.mark()
    const n2 = await grid.start('n2', ['--peer', n1.address])
    await n1.waitFor(refusedFor('revoked', 'n2'), 20_000, since)
    await n2.stop()
  }, 60_000)
})
