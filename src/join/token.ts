import { createHash, createHmac, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto'
import { JoinError } from '../errors.ts'

/**
 * A join token, kubeadm-style: who it is (`id`, so the issuer finds its record),
 * the secret that authenticates the joiner's request, and the hash of the grid CA
 * certificate, so the joiner trusts the issuer it reaches without trusting on
 * first use. Printed as `gridd1.<id>.<secret>.<sha256 of the CA DER, hex>`.
 */
export interface JoinToken {
  id: string
  /** 32 random bytes, base64url. */
  secret: string
  /** sha256 of the CA certificate's DER, lower-case hex. */
  caHash: string
}

const PREFIX = 'gridd1'
const TOKEN = /^gridd1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})\.([0-9a-f]{64})$/

export function newTokenId (): string {
  return randomBytes(8).toString('hex')
}

export function newTokenSecret (): string {
  return randomBytes(32).toString('base64url')
}

export function formatToken (token: JoinToken): string {
  return `${PREFIX}.${token.id}.${token.secret}.${token.caHash}`
}

/** Parses a token as printed; JoinError (no echo of the secret) when it is not one. */
export function parseToken (text: string): JoinToken {
  const match = TOKEN.exec(text.trim())
  if (match == null) throw new JoinError('not a join token: expected gridd1.<id>.<secret>.<ca hash> as `grid certs token create` prints it')
  return { id: match[1]!, secret: match[2]!, caHash: match[3]! }
}

/** sha256 of a certificate's DER (what `openssl x509 -outform der | sha256sum` prints). */
export function certificateHash (cert: string | X509Certificate): string {
  const x = typeof cert === 'string' ? new X509Certificate(cert) : cert
  return createHash('sha256').update(x.raw).digest('hex')
}

/** HMAC-SHA256 with the token's secret over `data`: proves the request came from a token holder. */
export function requestMac (secret: string, data: Uint8Array): string {
  return createHmac('sha256', Buffer.from(secret, 'base64url')).update(data).digest('base64url')
}

export function macMatches (secret: string, data: Uint8Array, mac: string): boolean {
  const expected = Buffer.from(requestMac(secret, data), 'base64url')
  const given = Buffer.from(mac, 'base64url')
  return given.length === expected.length && timingSafeEqual(given, expected)
}
