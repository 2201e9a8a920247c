import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { issueCertificate } from '../../../src/certs/create.ts'
import { initCertsDir, readCaPair, writePair } from '../../../src/certs/files.ts'
import { revokeInDir } from '../../../src/certs/crl.ts'
import { IssuedLog } from '../../../src/certs/issued.ts'
import { CRL_EXPIRY_FILE, EXPIRED_ENTRY_GRACE_MS, withoutExpired } from '../../../src/certs/revoked-expiry.ts'
import { normalizeSerial } from '../../../src/transport/mtls/verify.ts'

const HOUR_MS = 60 * 60 * 1000

describe('grid certs revoke leaves out the entries of certificates that expired (a CRL is capped at 1 MiB)', () => {
  let dir: string
  // whole seconds: certificates carry no milliseconds
  const t0 = new Date(Math.floor(Date.now() / 1000) * 1000)
  const at = (ms: number): Date => new Date(t0.getTime() + ms)

  /** A certificate in `dir` (NAME.crt) valid for one hour from t0; its serial. */
  const shortLived = async (name: string, hours = 1): Promise<string> => {
    const pair = await issueCertificate(await readCaPair(dir), { name, roles: ['member'], notBefore: at(-HOUR_MS), notAfter: at(hours * HOUR_MS) })
    await writePair(dir, name, pair, false)
    return normalizeSerial(new X509Certificate(pair.cert).serialNumber)
  }
  const listed = async (): Promise<string[]> => (await revokeInDir(dir, 'abcdef', t0)).crl.entries.map(e => e.serial)

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-crl-expiry-'))
    await initCertsDir(dir)
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('drops an expired certificate\'s entry once the grace period past its notAfter is over, keeping the unexpired and the unknown', async () => {
    const short = await shortLived('short')
    const long = await shortLived('long', 24 * 400)
    const unknown = 'c0ffee0123456789'
    for (const target of ['short', 'long', unknown]) expect((await revokeInDir(dir, target, t0)).added).toBe(true)
    expect(JSON.parse(await readFile(join(dir, CRL_EXPIRY_FILE), 'utf8')).notAfter).toEqual({ [short]: at(HOUR_MS).getTime(), [long]: at(24 * 400 * HOUR_MS).getTime() })

    // expired, but within the grace period (a node whose clock lags may still take it): still listed
    const early = await revokeInDir(dir, 'aa01', at(HOUR_MS + EXPIRED_ENTRY_GRACE_MS - 60_000))
    expect(early.dropped).toEqual([])
    expect(early.crl.entries.map(e => e.serial)).toEqual([short, long, unknown, 'aa01'])

    const later = await revokeInDir(dir, 'aa02', at(HOUR_MS + EXPIRED_ENTRY_GRACE_MS + 60_000))
    expect(later).toMatchObject({ added: true, dropped: [short] })
    expect(later.crl.entries.map(e => e.serial)).toEqual([long, unknown, 'aa01', 'aa02'])
    expect(later.crl.number).toBe(5n)
    // the expiry file holds the listed entries only
    expect(Object.keys(JSON.parse(await readFile(join(dir, CRL_EXPIRY_FILE), 'utf8')).notAfter)).toEqual([long])
  })

  it('knows the expiry of a serial from the join service\'s record or a certificate file, even with no expiry file (revoked before it existed)', async () => {
    const joined = 'beef0001'
    await new IssuedLog(join(dir, 'ca')).add({ serial: joined, name: 'w1', peerId: 'p', token: 't', issuedAt: t0.getTime(), notAfter: at(HOUR_MS).getTime() }, t0.getTime())
    const filed = await shortLived('filed')
    const gone = await shortLived('gone')
    await revokeInDir(dir, joined, t0)
    await revokeInDir(dir, filed, t0)
    await revokeInDir(dir, 'gone', t0)
    // what a CRL made before this bookkeeping looks like, and a certificate whose file and record are gone:
    // only the issue record and the remaining file say when they expire
    await rm(join(dir, CRL_EXPIRY_FILE))
    await rm(join(dir, 'gone.crt'))
    const after = await revokeInDir(dir, 'aa03', at(HOUR_MS + EXPIRED_ENTRY_GRACE_MS + 60_000))
    expect(after.dropped.sort()).toEqual([joined, filed].sort())
    expect(after.crl.entries.map(e => e.serial)).toEqual([gone, 'aa03'])
  })

  it('an unreadable expiry file drops nothing it cannot prove expired, and does not stop a revocation', async () => {
    await shortLived('short')
    await revokeInDir(dir, 'short', t0)
    await rm(join(dir, 'short.crt'))
    await writeFile(join(dir, CRL_EXPIRY_FILE), '{ not json')
    const after = await revokeInDir(dir, 'aa04', at(HOUR_MS + EXPIRED_ENTRY_GRACE_MS + 60_000))
    expect(after).toMatchObject({ added: true, dropped: [] })
    expect(after.crl.entries).toHaveLength(2)
  })

  it('a notAfter that is not a number (a date that did not parse) proves nothing: the entry stays', () => {
    const entries = [{ serial: 'aa', revokedAt: t0 }, { serial: 'bb', revokedAt: t0 }]
    const expiry = new Map([['aa', Number.NaN], ['bb', t0.getTime()]])
    expect(withoutExpired(entries, expiry, at(HOUR_MS + EXPIRED_ENTRY_GRACE_MS + 60_000)).map(e => e.serial)).toEqual(['aa'])
  })

  it('revoking an already revoked certificate changes nothing', async () => {
    await revokeInDir(dir, 'abcdef', t0)
    expect(await listed()).toEqual(['abcdef'])
  })
})
