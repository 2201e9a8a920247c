import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initCertsDir, readCaPair } from '../../../src/certs/files.ts'
import { createCa } from '../../../src/certs/create.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { createCrl, revokeInDir } from '../../../src/certs/crl.ts'
import { x509, webcrypto } from '../../../src/certs/x509.ts'
import { importKey } from '../../../src/certs/create.ts'
import { CrlStore } from '../../../src/trust/crl-store.ts'
import { crlDerFromPem, MAX_CRL_BYTES, verifyCrl } from '../../../src/trust/crl-parse.ts'
import { normalizeSerial } from '../../../src/transport/mtls/verify.ts'
import { CertificateError, CrlError } from '../../../src/errors.ts'

let root: string
let ca: CertKeyPair
let foreign: CertKeyPair
const at = new Date('2026-01-02T03:04:05Z')

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gridd-crl-'))
  await initCertsDir(join(root, 'certs'))
  ca = await readCaPair(join(root, 'certs'))
  foreign = await createCa({ commonName: 'gridd CA' })
})
afterAll(async () => { await rm(root, { recursive: true, force: true }) })

async function crl (number: bigint, serials: string[], signer = ca): Promise<Uint8Array> {
  return crlDerFromPem(await createCrl(signer, serials.map(serial => ({ serial, revokedAt: at })), number))
}

describe('verifyCrl', () => {
  it('reads what createCrl wrote: number, entries (normalized serials) and dates', async () => {
    const verified = verifyCrl(await crl(7n, ['0a', 'ff0a', '36373fec70816e3f6c6ed9d1ee1fef67']), new X509Certificate(ca.cert))
    expect(verified.number).toBe(7n)
    expect(verified.entries).toEqual([
      { serial: 'a', revokedAt: at },
      { serial: 'ff0a', revokedAt: at },
      { serial: '36373fec70816e3f6c6ed9d1ee1fef67', revokedAt: at }
    ])
  })

  it('refuses a CRL signed by another CA, even one with the same name', async () => {
    expect(() => verifyCrl(new Uint8Array(0), new X509Certificate(ca.cert))).toThrow(CrlError)
    const other = await crl(1n, ['01'], foreign)
    expect(() => verifyCrl(other, new X509Certificate(ca.cert))).toThrow(/signature does not verify/)
  })

  it('refuses a tampered CRL: a changed serial, a changed signature, bytes cut off or appended', async () => {
    const good = await crl(2n, ['abcdef'])
    const caCert = new X509Certificate(ca.cert)
    const serialAt = Buffer.from(good).indexOf(Buffer.from([0xab, 0xcd, 0xef]))
    const changed = Uint8Array.from(good)
    changed[serialAt] = 0xac
    expect(() => verifyCrl(changed, caCert)).toThrow(CrlError)
    const badSignature = Uint8Array.from(good)
    badSignature[badSignature.length - 1]! ^= 1
    expect(() => verifyCrl(badSignature, caCert)).toThrow(/signature/)
    expect(() => verifyCrl(good.subarray(0, good.length - 5), caCert)).toThrow(/malformed/)
    expect(() => verifyCrl(Uint8Array.from([...good, 0]), caCert)).toThrow(/trailing/)
  })

  it('mutated bytes (flipped, cut, lengths changed) only ever give CrlError, never another exception', async () => {
    const good = await crl(3n, ['0a', 'abcdef', '7f'])
    const caCert = new X509Certificate(ca.cert)
    // xorshift32 from a fixed seed: the same mutations on every run
    let seed = 0x9e3779b9
    const next = (n: number): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n }
    let refused = 0
    let mutations = 0
    for (let i = 0; i < 3000; i++) {
      const bytes = Uint8Array.from(good)
      for (let k = 0, flips = 1 + next(4); k < flips; k++) bytes[next(bytes.length)] = next(256)
      const mutated = next(5) === 0 ? bytes.subarray(0, next(bytes.length)) : bytes
      // a byte set to the value it had is no mutation
      if (Buffer.from(mutated).equals(Buffer.from(good))) continue
      mutations++
      try {
        verifyCrl(mutated, caCert)
      } catch (err) {
        expect(err).toBeInstanceOf(CrlError)
        refused++
      }
    }
    // a change to the signed part or the signature is caught: none slipped through as valid
    expect(mutations).toBeGreaterThan(2900)
    expect(refused).toBe(mutations)
  })

  it('refuses a CRL larger than the bound before parsing it', () => {
    expect(() => verifyCrl(new Uint8Array(MAX_CRL_BYTES + 1), new X509Certificate(ca.cert))).toThrow(/more than the/)
  })

  it('refuses a CRL without a CRL number (it cannot be ordered)', async () => {
    const caCert = new x509.X509Certificate(ca.cert)
    const unnumbered = await x509.X509CrlGenerator.create({ issuer: caCert.subjectName, entries: [{ serialNumber: '01' }], signingKey: await importKey(ca.key), signingAlgorithm: { name: 'Ed25519' } }, webcrypto)
    expect(() => verifyCrl(new Uint8Array(unnumbered.rawData), new X509Certificate(ca.cert))).toThrow(/no CRL number/)
  })
})

/** A store persisting to `file` that was offered CRL `number` (signed by `signer`), its write finished. */
async function storedIn (file: string, number: bigint, serials: string[], signer = ca): Promise<CrlStore> {
  const store = new CrlStore(signer.cert)
  await store.load(file)
  store.offer(await crl(number, serials, signer))
  await store.flush()
  return store
}

describe('CrlStore', () => {
  it('keeps the newest CRL by number: an older or equal one changes nothing', async () => {
    const store = new CrlStore(ca.cert)
    const updates: bigint[] = []
    store.on('update', c => { updates.push(c.number) })
    expect(store.offer(await crl(2n, ['aa', 'bb']), 'peer-a')).toBe('accepted')
    expect(store.offer(await crl(1n, ['cc']))).toBe('not-newer')
    expect(store.offer(await crl(2n, ['dd']))).toBe('not-newer')
    expect([store.isRevoked('aa'), store.isRevoked('bb'), store.isRevoked('cc'), store.isRevoked('dd')]).toEqual([true, true, false, false])
    expect(store.offer(await crl(3n, ['bb']))).toBe('accepted')
    // a newer CRL replaces the list (lifting a revocation is the issuer's call)
    expect([store.isRevoked('aa'), store.isRevoked('bb')]).toEqual([false, true])
    expect(updates).toEqual([2n, 3n])
  })

  it('throws CrlError for a CRL that does not verify and keeps what it held', async () => {
    const store = new CrlStore(ca.cert)
    store.offer(await crl(1n, ['aa']))
    expect(() => store.offer(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(CrlError)
    expect(() => store.offer(Uint8Array.from(Buffer.from('not der')))).toThrow(CrlError)
    expect(() => store.offer(new Uint8Array(0))).toThrow(CrlError)
    expect(() => store.offer(new Uint8Array(2 * MAX_CRL_BYTES))).toThrow(CrlError)
    expect(() => store.offerPem('-----BEGIN X509 CRL-----\n!!!\n-----END X509 CRL-----')).toThrow(CrlError)
    const other = await crl(9n, ['bb'], foreign)
    expect(() => store.offer(other)).toThrow(CrlError)
    expect(store.current?.number).toBe(1n)
    expect(store.isRevoked('aa')).toBe(true)
  })

  it('persists the newest CRL in its file and loads it at the next start', async () => {
    const file = join(root, 'data-1', 'crl.pem')
    const first = await storedIn(file, 4n, ['aa'])
    first.offer(await crl(3n, ['bb']))
    await first.flush()
    const second = new CrlStore(ca.cert)
    await second.load(file)
    expect(second.current?.number).toBe(4n)
    expect(second.isRevoked('aa')).toBe(true)
  })

  it('at start, the newer of --crl and the stored CRL wins, and is stored', async () => {
    const file = join(root, 'data-2', 'crl.pem')
    await storedIn(file, 5n, ['aa'])

    const olderFlag = new CrlStore(ca.cert)
    olderFlag.offer(await crl(2n, ['bb']))
    await olderFlag.load(file)
    expect(olderFlag.current?.number).toBe(5n)

    const newerFlag = new CrlStore(ca.cert)
    newerFlag.offer(await crl(6n, ['cc']))
    await newerFlag.load(file)
    await newerFlag.flush()
    expect(newerFlag.current?.number).toBe(6n)
    expect(verifyCrl(crlDerFromPem(await readFile(file, 'utf8')), new X509Certificate(ca.cert)).number).toBe(6n)
  })

  it('ignores a stored CRL that no longer verifies (another CA) and starts without one', async () => {
    const file = join(root, 'data-3', 'crl.pem')
    await storedIn(file, 1n, ['aa'], foreign)
    const store = new CrlStore(ca.cert)
    await store.load(file)
    expect(store.current).toBeUndefined()
  })
})

describe('revokeInDir', () => {
  it('adds each certificate to crl.pem with the next CRL number, keeping earlier entries', async () => {
    const dir = join(root, 'revoke')
    await initCertsDir(dir)
    const nodeSerial = normalizeSerial(new X509Certificate(await readFile(join(dir, 'node.crt'))).serialNumber)
    const first = await revokeInDir(dir, 'node')
    expect(first).toMatchObject({ name: 'node', serial: nodeSerial, added: true })
    expect(first.crl.number).toBe(1n)
    const second = await revokeInDir(dir, '0x00AbC')
    expect(second).toMatchObject({ serial: 'abc', added: true })
    expect(second.crl.number).toBe(2n)
    expect(second.crl.entries.map(e => e.serial)).toEqual([nodeSerial, 'abc'])
    // revoking again changes nothing
    const again = await revokeInDir(dir, 'node')
    expect(again).toMatchObject({ added: false })
    expect(again.crl.number).toBe(2n)
    const pem = await readFile(join(dir, 'crl.pem'), 'utf8')
    // another grid's CA refuses it
    expect(() => new CrlStore(ca.cert).offerPem(pem)).toThrow(CrlError)
    const own = new CrlStore(await readFile(join(dir, 'ca.crt'), 'utf8'))
    own.offerPem(pem)
    expect(own.isRevoked(nodeSerial)).toBe(true)
  })

  it('revocations at once (a script revoking several nodes in parallel) each land in crl.pem, with numbers of their own', async () => {
    const dir = join(root, 'revoke-parallel')
    await initCertsDir(dir)
    const results = await Promise.all(['node', 'client', 'admin', '0xabc', '0xdef'].map(async target => await revokeInDir(dir, target)))
    expect(new Set(results.map(r => r.crl.number)).size).toBe(results.length)
    const pem = await readFile(join(dir, 'crl.pem'), 'utf8')
    const held = verifyCrl(crlDerFromPem(pem), new X509Certificate(await readFile(join(dir, 'ca.crt'), 'utf8')))
    expect(held.number).toBe(BigInt(results.length))
    expect(held.entries.map(e => e.serial).sort()).toEqual(results.map(r => r.serial).sort())
  })

  it('refuses a name with no certificate that is not a serial, and a crl.pem of another CA', async () => {
    const dir = join(root, 'revoke-bad')
    await initCertsDir(dir)
    await expect(revokeInDir(dir, 'nobody')).rejects.toThrow(CertificateError)
    await writeFile(join(dir, 'crl.pem'), await createCrl(foreign, [], 1n))
    await expect(revokeInDir(dir, 'node')).rejects.toThrow(CrlError)
  })
})
