import { readCaPair } from '../../../src/certs/files.ts'
import type { CertKeyPair } from '../../../src/certs/create.ts'
import { x509, webcrypto } from '../../../src/certs/x509.ts'

/**
 * A certificate signed by the grid CA in `dir`, valid and usable for TLS, but
 * carrying an ECDSA P-256 key instead of Ed25519: it can never be a gridd
 * identity (what `wrong-key-type` refusals are for). Made by hand because
 * `grid certs` only ever issues Ed25519.
 */
export async function issueEcdsaCertificate (dir: string, name: string): Promise<CertKeyPair> {
  const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  return await signByHand(await readCaPair(dir), name, await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']) as CryptoKeyPair)
}

/**
 * A certificate signed by `ca`, Ed25519 and valid for TLS both ways, but with
 * no role in its SAN: what a certificate from before roles existed looks like
 * (`no-role` refusals). Made by hand because `grid certs` never issues one.
 */
export async function issueRolelessCertificate (ca: CertKeyPair, name: string): Promise<CertKeyPair> {
  return await signByHand(ca, name, await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']) as CryptoKeyPair, [{ type: 'dns', value: name }])
}

async function signByHand (ca: CertKeyPair, name: string, keys: CryptoKeyPair, san?: x509.JsonGeneralName[]): Promise<CertKeyPair> {
  const caCert = new x509.X509Certificate(ca.cert)
  const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.key), { name: 'Ed25519' }, false, ['sign'])
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01',
    subject: `CN=${name}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 24 * 60 * 60 * 1000),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: { name: 'Ed25519' },
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ...(san == null ? [] : [new x509.SubjectAlternativeNameExtension(san)])
    ]
  }, webcrypto)
  const key = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY')
  return { cert: cert.toString('pem'), key }
}
