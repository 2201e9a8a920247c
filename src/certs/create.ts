import { randomBytes } from 'node:crypto'
import { x509, webcrypto } from './x509.ts'
import { CertificateError, ConfigError } from '../errors.ts'
import { DEFAULT_CA_VALIDITY_DAYS, DEFAULT_CERT_VALIDITY_DAYS } from './validity.ts'
import { isRole, roleUri, ROLES } from '../trust/roles.ts'
import type { Role } from '../trust/roles.ts'

const ED25519 = { name: 'Ed25519' }
const DAY_MS = 24 * 60 * 60 * 1000
/** Tolerate clocks a little behind the issuer's. */
const BACKDATE_MS = 5 * 60 * 1000

export { DEFAULT_CA_VALIDITY_DAYS, DEFAULT_CERT_VALIDITY_DAYS } from './validity.ts'

/** A certificate and its private key, both PEM. */
export interface CertKeyPair {
  cert: string
  key: string
}

export interface CreateCaOptions {
  commonName?: string
  validityDays?: number
}

export interface IssueOptions {
  /** The subject CN and the DNS SAN. */
  name: string
  /** What the holder may do (DESIGN §11), as `urn:gridd:role:<role>` SAN URIs. Default `['member']`. */
  roles?: readonly Role[]
  /** Either way the certificate ends no later than the CA's own notAfter. */
  validityDays?: number
  /** Override validity start (tests make not-yet-valid certificates with it). */
  notBefore?: Date
  notAfter?: Date
}

/** A new Ed25519 certificate authority for one grid. */
export async function createCa (options: CreateCaOptions = {}): Promise<CertKeyPair> {
  const validityDays = checkValidity(options.validityDays ?? DEFAULT_CA_VALIDITY_DAYS)
  const keys = await generateKeys()
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${escapeDn(options.commonName ?? 'gridd CA')}`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + validityDays * DAY_MS),
    keys,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto)
    ]
  }, webcrypto)
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) }
}

/**
 * A node (or client) certificate signed by the CA: Ed25519 key (it becomes the
 * libp2p identity), SAN = name, usable as both TLS server and TLS client.
 */
export async function issueCertificate (ca: CertKeyPair, options: IssueOptions): Promise<CertKeyPair> {
  // checked before a key is made: a bad name fails at once
  checkName(options.name)
  const keys = await generateKeys()
  const cert = await signCertificate(ca, keys.publicKey, options)
  return { cert, key: await exportKey(keys.privateKey) }
}

/*
 * The key helpers below are gridd's own (the join protocol, the CLI): typed as @peculiar/x509 takes keys, with the
 * DOM's CryptoKey, they are @internal, left out of the published declarations, which an app compiles with
 * @types/node alone (no "dom" lib). createCa and issueCertificate, which 'gridd' exports, take and give PEM text.
 */

/**
 * A certificate for a public key the holder keeps (a join request's CSR key):
 * the same shape `issueCertificate` makes, PEM. Name and roles are checked here too.
 * @internal
 */
export async function signCertificate (ca: CertKeyPair, publicKey: CryptoKey | x509.PublicKey, options: IssueOptions): Promise<string> {
  const name = checkName(options.name)
  const roles = checkRoles(options.roles ?? ['member'])
  const validityDays = checkValidity(options.validityDays ?? DEFAULT_CERT_VALIDITY_DAYS)
  const caCert = new x509.X509Certificate(ca.cert)
  const caKey = await importKey(ca.key)
  const now = Date.now()
  if (caCert.notAfter.getTime() < now) throw new CertificateError(`the CA certificate (${caCert.subject}) expired on ${caCert.notAfter.toISOString()}: make a new CA (\`grid certs init\`)`)
  const notAfter = options.notAfter ?? new Date(now + validityDays * DAY_MS)
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${escapeDn(name)}`,
    issuer: caCert.subject,
    notBefore: options.notBefore ?? new Date(now - BACKDATE_MS),
    // a certificate is worth nothing once its CA has expired: never claim longer
    notAfter: notAfter > caCert.notAfter ? caCert.notAfter : notAfter,
    publicKey,
    signingKey: caKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }, ...roles.map(r => ({ type: 'url' as const, value: roleUri(r) }))]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false, webcrypto)
    ]
  }, webcrypto)
  return cert.toString('pem')
}

/** @internal */
export async function generateKeys (): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify']) as CryptoKeyPair
}

/** @internal */
export async function exportKey (key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key)
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')
}

/**
 * The CA's PKCS#8 PEM key, for signing certificates and CRLs.
 * @internal
 */
export async function importKey (pem: string): Promise<CryptoKey> {
  try {
    const der = x509.PemConverter.decodeFirst(pem)
    return await webcrypto.subtle.importKey('pkcs8', der, ED25519, false, ['sign'])
  } catch (err) {
    throw new CertificateError('the CA key is not an Ed25519 PKCS#8 PEM key', { cause: err })
  }
}

function serialNumber (): string {
  // positive 128-bit serial: clear the top bit
  const bytes = randomBytes(16)
  bytes[0] = (bytes[0] ?? 0) & 0x7f
  return bytes.toString('hex')
}

function checkRoles (roles: readonly Role[]): Role[] {
  if (roles.length === 0) throw new ConfigError('roles', `a certificate needs at least one role of ${ROLES.join(', ')}`)
  for (const role of roles) {
    if (!isRole(role)) throw new ConfigError('roles', `"${String(role)}" is not a role; roles are ${ROLES.join(', ')}`)
  }
  return [...new Set(roles)]
}

function checkValidity (days: number): number {
  if (!Number.isFinite(days) || days <= 0) throw new ConfigError('validityDays', `must be a positive number of days, got ${days}`)
  return days
}

/** Names become file names and DNS SANs: keep them to a safe alphabet. */
export function checkName (name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    throw new ConfigError('name', `"${name}" must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
  return name
}

function escapeDn (value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1')
}
