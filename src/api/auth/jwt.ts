import { readFile } from 'node:fs/promises'
import { createPublicKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { createLocalJWKSet, jwtVerify } from 'jose'
import type { JWTVerifyGetKey } from 'jose'
import { scopesOfClaims } from './scopes.ts'
import type { CredentialRefusal, Principal, TokenCredential } from './scopes.ts'
import { ConfigError, UnauthorizedError } from '../../errors.ts'

/** How bearer tokens are checked: exactly one key source. */
export interface JwtOptions {
  /** A file holding the HS256 shared secret (at least 32 bytes; surrounding whitespace ignored). */
  secretFile?: string
  /** A PEM public key file: Ed25519 (EdDSA) or P-256 (ES256). */
  publicKeyFile?: string
  /** A JWKS file (`{ "keys": [...] }`) of EdDSA or ES256 public keys, chosen by `kid`. */
  jwksFile?: string
  /** Required `iss`, if given. */
  issuer?: string
  /** Required `aud`, if given. */
  audience?: string
}

export type VerifyToken = (token: string) => Promise<Principal>

const MIN_SECRET_BYTES = 32
const CLOCK_TOLERANCE_S = 5

/** A key file the verifier needs: one it cannot read is a configuration error naming the option (exit 2 from `grid node`), not a raw ENOENT. */
async function readKeyFile (option: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(option, `cannot read ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** Reads the key material once and returns a verifier: signature, algorithm, `exp` (required), `sub` (required), issuer, audience. */
export async function jwtVerifier (options: JwtOptions): Promise<VerifyToken> {
  const sources = [options.secretFile, options.publicKeyFile, options.jwksFile].filter(s => s != null)
  if (sources.length !== 1) throw new ConfigError('api-jwt', 'give exactly one of a secret file, a public key file or a JWKS file')
  let key: Uint8Array | KeyObject | JWTVerifyGetKey
  let algorithms: string[]
  if (options.secretFile != null) {
    const secret = new TextEncoder().encode((await readKeyFile('api-jwt-secret-file', options.secretFile)).trim())
    if (secret.length < MIN_SECRET_BYTES) throw new ConfigError('api-jwt-secret-file', `needs at least ${MIN_SECRET_BYTES} bytes (HS256), has ${secret.length}`)
    key = secret
    algorithms = ['HS256']
  } else if (options.publicKeyFile != null) {
    const text = await readKeyFile('api-jwt-public-key-file', options.publicKeyFile)
    let publicKey: KeyObject
    try {
      publicKey = createPublicKey(text)
    } catch (err) {
      throw new ConfigError('api-jwt-public-key-file', `${options.publicKeyFile} holds no public key (PEM): ${(err as Error).message}`, { cause: err })
    }
    key = publicKey
    algorithms = [algorithmOf(publicKey)]
  } else {
    const text = await readKeyFile('api-jwks-file', options.jwksFile!)
    let jwks: unknown
    try {
      jwks = JSON.parse(text)
    } catch (err) {
      throw new ConfigError('api-jwks-file', `${options.jwksFile} is not JSON`, { cause: err })
    }
    if (jwks == null || typeof jwks !== 'object' || !Array.isArray((jwks as { keys?: unknown }).keys)) throw new ConfigError('api-jwks-file', 'must be { "keys": [...] }')
    key = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0])
    algorithms = ['EdDSA', 'Ed25519', 'ES256']
  }
  const checks = { algorithms, requiredClaims: ['exp', 'sub'], issuer: options.issuer, audience: options.audience, clockTolerance: CLOCK_TOLERANCE_S }
  return async (token) => {
    let payload
    try {
      // one call per key shape: jose's overloads keep a key and a key getter apart
      payload = (typeof key === 'function' ? await jwtVerify(token, key, checks) : await jwtVerify(token, key, checks)).payload
    } catch (err) {
      throw new UnauthorizedError(`bearer token refused: ${(err as Error).message}`, { cause: err })
    }
    const subject = String(payload.sub)
    // the node names its other callers so (a client certificate, a CLI peer, a webhook): a token named
    // like one would act as it, on the schedules and tasks that caller owns
    const reserved = RESERVED_SUBJECT_PREFIXES.find(prefix => subject.startsWith(prefix))
    if (reserved != null) throw new UnauthorizedError(`bearer token refused: its sub "${subject}" starts with "${reserved}", which names callers that are not tokens`)
    return { subject, scopes: scopesOfClaims(payload), token: tokenCredential(payload.exp!) }
  }
}

/**
 * When a token accepted now stops being accepted: jose refuses it once the whole seconds of the
 * clock reach `exp` plus the tolerance (a fractional `exp` rounds up), so it is good through the millisecond before.
 */
function tokenCredential (exp: number): TokenCredential {
  return { exp, validThrough: Math.ceil(exp + CLOCK_TOLERANCE_S) * 1000 - 1 }
}

/** Whether a token the verifier accepted still would be: not expired since (a stream it opened outlives its request). */
export function tokenRefusal (token: TokenCredential, now = Date.now()): CredentialRefusal | undefined {
  if (now > token.validThrough) return { credential: 'token', reason: 'expired', detail: `this bearer token expired at ${new Date(token.exp * 1000).toISOString()}` }
  return undefined
}

/**
 * Subjects of callers that are not tokens: `cert:<CN>` (certificate.ts), `peer:<id>` (schedules over libp2p), `hook:<name>` (webhooks);
 * and `sha256:<hex>`, the form a subject too long for a task's submitter takes there (ownership.ts): a token so named would own
 * the tasks of the long subject whose hash it copied.
 */
export const RESERVED_SUBJECT_PREFIXES = ['cert:', 'peer:', 'hook:', 'sha256:'] as const

function algorithmOf (key: KeyObject): string {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  throw new ConfigError('api jwt public key file', `must hold an Ed25519 or P-256 public key, not ${key.asymmetricKeyType ?? 'a secret key'}`)
}
