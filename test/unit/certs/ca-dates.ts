import { createPublicKey } from 'node:crypto'
import { x509, webcrypto } from '../../../src/certs/x509.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'

const ED25519 = { name: 'Ed25519' }

/**
 * The same CA (subject, key, extensions) self-signed again with other dates:
 * what every certificate it signed earlier meets once the CA has expired (or
 * before it starts), without those certificates' own dates changing.
 */
export async function caWithDates (ca: CertKeyPair, notBefore: Date, notAfter: Date): Promise<CertKeyPair> {
  const original = new x509.X509Certificate(ca.cert)
  const privateKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.key), ED25519, false, ['sign'])
  const spki = createPublicKey(ca.key).export({ format: 'der', type: 'spki' })
  const publicKey = await webcrypto.subtle.importKey('spki', spki, ED25519, true, ['verify'])
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: original.serialNumber,
    name: original.subjectName,
    notBefore,
    notAfter,
    keys: { publicKey, privateKey },
    signingAlgorithm: ED25519,
    extensions: original.extensions
  }, webcrypto)
  return { cert: cert.toString('pem'), key: ca.key }
}
