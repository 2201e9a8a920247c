import { X509Certificate, verify as verifySignature } from 'node:crypto'
import { CrlError } from '../errors.ts'
import { DerError, TAG, children, content, expectTlv, readOid, readTime, readTlv, readUnsignedHex, whole } from './der.ts'
import type { Tlv } from './der.ts'

/** A CRL larger than this (DER) is refused before parsing: ~28k entries, far beyond any grid's revocations. */
export const MAX_CRL_BYTES = 1024 * 1024
/** And one with more entries than this, whatever its size. */
export const MAX_CRL_ENTRIES = 100_000
/** RFC 5280: CRL numbers and serials are at most 20 octets. */
const MAX_INTEGER_OCTETS = 21

const OID_CRL_NUMBER = '2.5.29.20'
/** Non-critical CRL and entry extensions we may ignore; an unknown critical one refuses the CRL (RFC 5280 §5.2). */
const KNOWN_CRL_EXTENSIONS = new Set([OID_CRL_NUMBER, '2.5.29.35' /* authority key id */])
const KNOWN_ENTRY_EXTENSIONS = new Set(['2.5.29.21' /* reason */, '2.5.29.24' /* invalidity date */])

/** Signature algorithms by OID, as node:crypto's verify names their digest (null: the key decides). */
const SIGNATURE_DIGESTS = new Map<string, string | null>([
  ['1.3.101.112', null], // Ed25519
  ['1.3.101.113', null], // Ed448
  ['1.2.840.10045.4.3.2', 'sha256'], // ECDSA
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
  ['1.2.840.113549.1.1.11', 'sha256'], // RSA PKCS#1 v1.5
  ['1.2.840.113549.1.1.12', 'sha384'],
  ['1.2.840.113549.1.1.13', 'sha512']
])

export interface CrlEntry {
  /** Lower-case hex without leading zeros, as normalizeSerial gives a certificate's. */
  serial: string
  revokedAt: Date
}

/** A CRL whose signature, issuer and structure were checked against the grid CA. */
export interface VerifiedCrl {
  der: Uint8Array
  /** The CRL number: a newer CRL has a larger one. */
  number: bigint
  thisUpdate: Date
  entries: CrlEntry[]
}

/** OpenSSL writes "X509 CRL"; some tools write "CRL". */
const PEM = /-----BEGIN (X509 )?CRL-----([A-Za-z0-9+/=\s]+)-----END \1CRL-----/

/** The DER of a PEM CRL (`-----BEGIN X509 CRL-----`). */
export function crlDerFromPem (pem: string): Uint8Array {
  if (pem.length > MAX_CRL_BYTES * 2) throw new CrlError(`the CRL is larger than ${MAX_CRL_BYTES} bytes`)
  const body = PEM.exec(pem)?.[2]
  if (body == null) throw new CrlError('not a PEM CRL (no "-----BEGIN X509 CRL-----" block)')
  return new Uint8Array(Buffer.from(body.replace(/\s+/g, ''), 'base64'))
}

export function crlPemFromDer (der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`
}

/**
 * Parses a DER CRL and checks it against the grid CA: its issuer is the CA's
 * subject, its signature verifies with the CA's key, it carries a CRL number,
 * has no critical extension we do not understand, and stays within the size
 * and entry bounds. Throws CrlError saying what is wrong.
 */
export function verifyCrl (der: Uint8Array, ca: X509Certificate): VerifiedCrl {
  if (der.length > MAX_CRL_BYTES) throw new CrlError(`the CRL is ${der.length} bytes, more than the ${MAX_CRL_BYTES} allowed`)
  let parsed: ReturnType<typeof parseCrl>
  let caSubject: Uint8Array
  try {
    parsed = parseCrl(der)
    caSubject = subjectOf(ca)
  } catch (err) {
    if (err instanceof CrlError) throw err
    throw new CrlError(`malformed CRL: ${(err as Error).message}`, { cause: err })
  }
  if (!Buffer.from(parsed.issuer).equals(Buffer.from(caSubject))) {
    throw new CrlError(`the CRL was not issued by the grid CA (${ca.subject.replace(/\n/g, ', ')})`)
  }
  const digest = SIGNATURE_DIGESTS.get(parsed.algorithm)
  if (digest === undefined) throw new CrlError(`the CRL's signature algorithm ${parsed.algorithm} is not supported`)
  let valid: boolean
  try {
    valid = verifySignature(digest, parsed.tbs, ca.publicKey, parsed.signature)
  } catch {
    // the CA's key is of another type than the signature claims
    valid = false
  }
  if (!valid) throw new CrlError('the CRL\'s signature does not verify with the grid CA\'s key (signed by another CA?)')
  return { der, number: parsed.number, thisUpdate: parsed.thisUpdate, entries: parsed.entries }
}

function parseCrl (der: Uint8Array): { tbs: Uint8Array, issuer: Uint8Array, algorithm: string, signature: Uint8Array, number: bigint, thisUpdate: Date, entries: CrlEntry[] } {
  const outer = expectTlv(der, 0, der.length, TAG.sequence, 'CertificateList')
  if (outer.end !== der.length) throw new CrlError('trailing bytes after the CRL')
  const [tbsTlv, algTlv, sigTlv, ...extra] = children(der, outer, 3)
  if (tbsTlv == null || algTlv == null || sigTlv == null || extra.length > 0) throw new DerError('a CRL has three parts')
  if (tbsTlv.tag !== TAG.sequence || algTlv.tag !== TAG.sequence || sigTlv.tag !== TAG.bitString) throw new DerError('CertificateList parts have the wrong types')
  const signatureBits = content(der, sigTlv)
  if (signatureBits[0] !== 0) throw new DerError('the signature is not a whole number of bytes')

  const parts = children(der, tbsTlv, 7)
  let i = 0
  if (parts[i]?.tag === TAG.integer) {
    if (readUnsignedHex(der, parts[i]!, 1) !== '1') throw new CrlError('only v2 CRLs (with a CRL number) are accepted')
    i++
  }
  const innerAlg = parts[i++]
  const issuer = parts[i++]
  const thisUpdate = parts[i++]
  if (innerAlg?.tag !== TAG.sequence || issuer?.tag !== TAG.sequence || thisUpdate == null) throw new DerError('TBSCertList is incomplete')
  // RFC 5280: the signed algorithm must be the one the signature claims
  if (!Buffer.from(whole(der, innerAlg)).equals(Buffer.from(whole(der, algTlv)))) throw new CrlError('the CRL names two different signature algorithms')
  if (parts[i] != null && (parts[i]!.tag === TAG.utcTime || parts[i]!.tag === TAG.generalizedTime)) {
    readTime(der, parts[i]!) // nextUpdate: checked, not enforced (a newer CRL, not a date, replaces this one)
    i++
  }
  let entries: CrlEntry[] = []
  if (parts[i]?.tag === TAG.sequence) entries = readEntries(der, parts[i++]!)
  let number: bigint | undefined
  if (parts[i]?.tag === TAG.context0) number = readCrlExtensions(der, parts[i++]!)
  if (i !== parts.length) throw new DerError('unexpected fields in TBSCertList')
  if (number == null) throw new CrlError('the CRL has no CRL number, so it cannot be ordered against others')

  const algOid = children(der, algTlv, 2)[0]
  if (algOid?.tag !== TAG.oid) throw new DerError('bad signature algorithm')
  return {
    tbs: whole(der, tbsTlv),
    issuer: whole(der, issuer),
    algorithm: readOid(der, algOid),
    signature: signatureBits.subarray(1),
    number,
    thisUpdate: readTime(der, thisUpdate),
    entries
  }
}

function readEntries (der: Uint8Array, list: Tlv): CrlEntry[] {
  return children(der, list, MAX_CRL_ENTRIES).map(entry => {
    if (entry.tag !== TAG.sequence) throw new DerError('a revoked certificate entry is not a sequence')
    const [serial, date, extensions, ...extra] = children(der, entry, 3)
    if (serial?.tag !== TAG.integer || date == null || extra.length > 0) throw new DerError('bad revoked certificate entry')
    if (extensions != null) readExtensions(der, extensions, KNOWN_ENTRY_EXTENSIONS)
    return { serial: readUnsignedHex(der, serial, MAX_INTEGER_OCTETS), revokedAt: readTime(der, date) }
  })
}

/** The CRL number from the `[0] Extensions` of a TBSCertList. */
function readCrlExtensions (der: Uint8Array, wrapper: Tlv): bigint | undefined {
  const [list, ...extra] = children(der, wrapper, 1)
  if (list?.tag !== TAG.sequence || extra.length > 0) throw new DerError('bad CRL extensions')
  const value = readExtensions(der, list, KNOWN_CRL_EXTENSIONS).get(OID_CRL_NUMBER)
  if (value == null) return undefined
  const integer = readTlv(value, 0)
  if (integer.tag !== TAG.integer || integer.end !== value.length) throw new DerError('the CRL number is not an integer')
  return BigInt(`0x${readUnsignedHex(value, integer, MAX_INTEGER_OCTETS)}`)
}

/** Extensions by OID (their OCTET STRING contents); duplicates and unknown critical ones are refused. */
function readExtensions (der: Uint8Array, list: Tlv, known: ReadonlySet<string>): Map<string, Uint8Array> {
  const found = new Map<string, Uint8Array>()
  for (const ext of children(der, list, 32)) {
    const fields = children(der, ext, 3)
    const oid = fields[0]
    const value = fields.at(-1)
    if (oid?.tag !== TAG.oid || value?.tag !== TAG.octetString || fields.length < 2) throw new DerError('bad extension')
    if (fields.length === 3 && fields[1]!.tag !== TAG.boolean) throw new DerError('bad extension criticality')
    const id = readOid(der, oid)
    const critical = fields.length === 3 && content(der, fields[1]!)[0] !== 0
    if (found.has(id)) throw new CrlError(`the CRL repeats extension ${id}`)
    if (critical && !known.has(id)) throw new CrlError(`the CRL has a critical extension gridd does not understand (${id})`)
    found.set(id, content(der, value))
  }
  return found
}

/** The DER of a certificate's subject Name (tbsCertificate: [0] version, serial, signature, issuer, validity, subject); DerError if it has none. */
function subjectOf (cert: X509Certificate): Uint8Array {
  const der = new Uint8Array(cert.raw)
  const outer = readTlv(der, 0)
  const tbs = children(der, outer, 3)[0]!
  const fields = children(der, tbs, 10)
  const first = fields[0]?.tag === TAG.context0 ? 1 : 0
  const subject = fields[first + 4]
  if (subject == null) throw new DerError('the CA certificate has no subject')
  return whole(der, subject)
}
