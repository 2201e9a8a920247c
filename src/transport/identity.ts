import { createPrivateKey, X509Certificate } from 'node:crypto'
import { privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { CertificateError } from '../errors.ts'

/** The libp2p identity is the certificate's own Ed25519 key: one key file, one peer id. */
export async function privateKeyFromPem (pem: string): Promise<PrivateKey> {
  const key = createPrivateKey(pem)
  if (key.asymmetricKeyType !== 'ed25519') throw new CertificateError(`node keys must be Ed25519, got ${key.asymmetricKeyType}`)
  const jwk = key.export({ format: 'jwk' })
  if (jwk.d == null || jwk.x == null) throw new CertificateError('the key has no private part')
  // seed + public key, as libp2p marshals Ed25519 keys: nothing derived in JS (deriving the
  // public key from the seed would run @noble/curves' BigInt precomputation at every start)
  return privateKeyFromRaw(Buffer.concat([Buffer.from(jwk.d, 'base64url'), Buffer.from(jwk.x, 'base64url')]))
}

/** The peer id a certificate stands for; undefined when its key is not Ed25519. */
export function peerIdFromCertificate (cert: X509Certificate | Buffer | string): PeerId | undefined {
  const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert)
  if (x.publicKey.asymmetricKeyType !== 'ed25519') return undefined
  const jwk = x.publicKey.export({ format: 'jwk' })
  if (jwk.x == null) return undefined
  return peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(jwk.x, 'base64url')))
}
