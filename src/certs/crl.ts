import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { x509, webcrypto } from './x509.ts'
import { importKey } from './create.ts'
import type { CertKeyPair } from './create.ts'
import { readCaPair } from './files.ts'
import { issuedTo } from './issued.ts'
import type { IssuedRecord } from './issued.ts'
import { CertificateError, CrlError } from '../errors.ts'
import { encodeUnsigned } from '../trust/der.ts'
import { crlDerFromPem, crlPemFromDer, verifyCrl } from '../trust/crl-parse.ts'
import type { CrlEntry, VerifiedCrl } from '../trust/crl-parse.ts'
import { normalizeSerial } from '../transport/mtls/verify.ts'
import { writeFileAtomic } from '../trust/write-file.ts'
import { withFileLock } from './file-lock.ts'
import { knownExpiry, withoutExpired, writeExpiryFile } from './revoked-expiry.ts'

/** Where `grid certs revoke` keeps the grid's CRL, beside ca.crt. */
export const CRL_FILE = 'crl.pem'
/** Held across each read-modify-write of crl.pem. */
const CRL_LOCK_FILE = 'crl.lock'
const OID_CRL_NUMBER = '2.5.29.20'

/** An X.509 v2 CRL listing `entries`, numbered `number`, signed by the CA (Ed25519, as gridd CAs are). */
export async function createCrl (ca: CertKeyPair, entries: readonly CrlEntry[], number: bigint, thisUpdate = new Date()): Promise<string> {
  const caCert = new x509.X509Certificate(ca.cert)
  const crl = await x509.X509CrlGenerator.create({
    // the CA's own encoded subject, so nodes can compare the issuer byte for byte
    issuer: caCert.subjectName,
    thisUpdate,
    entries: entries.map(e => ({ serialNumber: evenHex(e.serial), revocationDate: e.revokedAt })),
    extensions: [
      new x509.Extension(OID_CRL_NUMBER, false, encodeUnsigned(number)),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false, webcrypto)
    ],
    signingKey: await importKey(ca.key),
    signingAlgorithm: { name: 'Ed25519' }
  }, webcrypto)
  // OpenSSL's label ("X509 CRL"), so `openssl crl -in crl.pem` reads it
  return crlPemFromDer(new Uint8Array(crl.rawData))
}

export interface RevokeResult {
  /** The CRL file written (or left as it was). */
  file: string
  serial: string
  /** The certificate's name, when revoked by name. */
  name?: string
  /** Its peer id, when found in the record of certificates issued to joining nodes. */
  peerId?: string
  /** false: the serial was already in the CRL, which is unchanged. */
  added: boolean
  /** Serials of the previous CRL's entries left out of this one: their certificates expired (revoked-expiry.ts). */
  dropped: string[]
  crl: VerifiedCrl
  pem: string
}

/**
 * `grid certs revoke <name|serial> --dir D`: adds the certificate `D/<name>.crt`, one
 * the join service issued to `<name>` (or to that peer id: `D/ca/issued.json`), or a
 * hex serial to `D/crl.pem`, with the next CRL number. The earlier entries are kept,
 * but for those of certificates known to have expired more than a week before
 * `now` (every node refuses them anyway): their expiry is recorded beside the CRL
 * (`D/crl-expiry.json`), and an entry whose expiry is unknown stays.
 */
export async function revokeInDir (dir: string, target: string, now = new Date()): Promise<RevokeResult> {
  const ca = await readCaPair(dir)
  const caCert = new X509Certificate(ca.cert)
  const { serial, name, peerId, notAfter } = await resolveTarget(dir, target, caCert, now)
  const file = join(dir, CRL_FILE)
  // read, add, write under a lock shared by every `grid certs revoke` on this directory: two at once
  // would each write "the next number" with only their own entry, and one revocation would be lost
  return await withFileLock(join(dir, CRL_LOCK_FILE), async lock => {
    const previous = await readCrlFile(file, caCert)
    if (previous?.crl.entries.some(e => e.serial === serial) === true) return { file, serial, name, peerId, added: false, dropped: [], crl: previous.crl, pem: previous.pem }
    const expiry = await knownExpiry(dir, caCert)
    if (notAfter != null) expiry.set(serial, notAfter)
    const kept = withoutExpired(previous?.crl.entries ?? [], expiry, now)
    // the new entry always goes in, even for a certificate already expired: the next CRL leaves it out
    const entries = [...kept, { serial, revokedAt: now }]
    const pem = await createCrl(ca, entries, (previous?.crl.number ?? 0n) + 1n, now)
    const crl = verifyCrl(crlDerFromPem(pem), caCert)
    // the expiry first: a crash between the two leaves a CRL entry of unknown expiry (kept), never one dropped early
    await writeExpiryFile(dir, entries, expiry, lock.assertHeld)
    await writeFileAtomic(file, pem, 0o644, lock.assertHeld)
    const listed = new Set(kept.map(e => e.serial))
    return { file, serial, name, peerId, added: true, dropped: (previous?.crl.entries ?? []).filter(e => !listed.has(e.serial)).map(e => e.serial), crl, pem }
  })
}

/** A CRL file checked against the CA; undefined when there is none yet. */
export async function readCrlFile (file: string, ca: X509Certificate): Promise<{ crl: VerifiedCrl, pem: string } | undefined> {
  let pem: string
  try {
    pem = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CrlError(`cannot read ${file}`, { cause: err })
  }
  try {
    return { crl: verifyCrl(crlDerFromPem(pem), ca), pem }
  } catch (err) {
    throw new CrlError(`${file}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The target's serial; its notAfter when known from its certificate or the issue record (by serial: knownExpiry looks).
 * A name is looked up both as `dir/<name>.crt` and in the join service's record: a joining node chooses its own
 * name (`--name`), so one may match a file of the issuer's too, and then the serials are listed instead of a guess.
 */
async function resolveTarget (dir: string, target: string, ca: X509Certificate, now: Date): Promise<{ serial: string, name?: string, peerId?: string, notAfter?: number }> {
  const isName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(target)
  const file = isName ? await certificateFile(dir, target, ca) : undefined
  // a joined node's certificate exists only on its machine: the issuer recorded its serial
  const issued = isName ? (await issuedTo(dir, target)).filter(i => i.serial !== file?.serial) : []
  if (file != null && issued.length > 0) {
    const list = [`${file.serial} (${join(dir, `${target}.crt`)}, valid until ${new Date(file.notAfter).toISOString()})`, ...issued.map(issuedText)]
    throw new CertificateError(`"${target}" names both ${join(dir, `${target}.crt`)} and ${issued.length === 1 ? 'a certificate' : `${issued.length} certificates`} the join service issued to a node of that name or peer id: revoke the one meant by its serial: ${list.join('; ')}`)
  }
  if (file != null) return file
  const only = onlyIssued(issued, target, now)
  if (only != null) return { serial: only.serial, name: only.name, peerId: only.peerId, notAfter: only.notAfter }
  const hex = target.replace(/^0x/i, '').replace(/:/g, '')
  if (/^[0-9a-f]{1,40}$/i.test(hex)) return { serial: normalizeSerial(hex) }
  throw new CertificateError(`"${target}" is neither a certificate in ${dir} (${target}.crt), nor a name or peer id the join service issued a certificate to, nor a hex serial number`)
}

/** `dir/<name>.crt`, checked against the CA; undefined when there is no such file. */
async function certificateFile (dir: string, name: string, ca: X509Certificate): Promise<{ serial: string, name: string, notAfter: number } | undefined> {
  const path = join(dir, `${name}.crt`)
  const pem = await readFile(path, 'utf8').catch(() => undefined)
  if (pem == null) return undefined
  const cert = new X509Certificate(pem)
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw new CertificateError(`${path} is not signed by the CA in ${dir}`)
  return { serial: normalizeSerial(cert.serialNumber), name, notAfter: Date.parse(cert.validTo) }
}

const issuedText = (i: IssuedRecord): string => `${i.serial} (peer id ${i.peerId}, issued ${new Date(i.issuedAt).toISOString()}, valid until ${new Date(i.notAfter).toISOString()})`

/**
 * The one certificate issued to `target`, or undefined when there is none. A name issued more
 * than once (a node that joined again, two machines of one host name) is refused unless exactly
 * one of those certificates is still valid: revoking by name must not guess.
 */
function onlyIssued (issued: IssuedRecord[], target: string, now: Date): IssuedRecord | undefined {
  if (issued.length <= 1) return issued[0]
  const valid = issued.filter(i => i.notAfter > now.getTime())
  if (valid.length === 1) return valid[0]
  const list = (valid.length === 0 ? issued : valid).map(issuedText)
  throw new CertificateError(`"${target}" was issued ${list.length} ${valid.length === 0 ? 'certificates, all expired' : 'certificates still valid'}: revoke each by its serial: ${list.join('; ')}`)
}

/** @peculiar/x509 takes serials as whole bytes. */
function evenHex (serial: string): string {
  return serial.length % 2 === 1 ? `0${serial}` : serial
}
