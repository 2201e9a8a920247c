import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CA_KEY_DIR, caKeyDirOf, writePair } from '../certs/files.ts'
import { checkMaterial, loadCerts } from '../transport/mtls/material.ts'
import type { TlsMaterial } from '../transport/mtls/material.ts'
import { CertificateError } from '../errors.ts'
import { writeFileAtomic } from '../trust/write-file.ts'
import { TokenStore } from './token-store.ts'
import { certificateHash } from './token.ts'
import type { JoinToken } from './token.ts'

/**
 * The token store of a certificates directory: `tokens.json` beside the CA key, where the issuer
 * (`grid node --ca-key FILE`) reads it; `<dir>/ca/` when there is no key.
 */
export async function tokenStoreOf (certsDir: string): Promise<TokenStore> {
  const found = caKeyDirOf(certsDir)
  if (found != null) return new TokenStore(found)
  await mkdir(join(certsDir, CA_KEY_DIR), { recursive: true, mode: 0o700 })
  return new TokenStore(join(certsDir, CA_KEY_DIR))
}

export function caHashOf (caPem: string): string {
  return certificateHash(caPem)
}

/** Where a joined node keeps what it was issued: `<dataDir>/certs/{ca.crt,node.crt,node.key}`. */
export function joinedCertsDir (dataDir: string): string {
  return join(dataDir, 'certs')
}

/**
 * The certificate a node got by joining earlier, if any: a restart reuses it
 * (and spends no token). One issued under another CA than the token's is refused, and so is
 * one it cannot use (expired, say), naming the directory to move away.
 */
export async function loadJoined (dataDir: string, token: JoinToken): Promise<TlsMaterial | undefined> {
  const dir = joinedCertsDir(dataDir)
  if (!existsSync(join(dir, 'node.crt'))) return undefined
  const tls = await loadCerts(dir, 'node')
  if (certificateHash(tls.ca) !== token.caHash) throw new CertificateError(`${dir} holds a certificate of another grid (its CA does not match the token's hash); move it away to join this one`)
  // checked here, not only at the node's start: there the message would name neither this directory nor the way out
  try {
    checkMaterial(tls)
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err
    throw new CertificateError(`${dir} holds the certificate of an earlier join, which this node cannot use: ${err.message}; move it away to join again with the token`, { cause: err })
  }
  return tls
}

/** Stores what a join was issued: the key 0600 in a 0700 directory. */
export async function storeJoined (dataDir: string, tls: TlsMaterial): Promise<string> {
  const dir = joinedCertsDir(dataDir)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await writeFileAtomic(join(dir, 'ca.crt'), tls.ca, 0o644)
  await writePair(dir, 'node', { cert: tls.cert, key: tls.key }, true)
  return dir
}

/** The CA key for `grid node --ca-key FILE`, and the token store beside it. */
export async function readIssuerFiles (caKeyFile: string, caCert: string): Promise<{ key: string, tokens: TokenStore }> {
  // bad input, one line naming the flag and file (exit 2), not the stack of a raw fs or OpenSSL error
  const key = await readFile(caKeyFile, 'utf8').catch((err: unknown) => { throw new CertificateError(`cannot read the CA key --ca-key ${caKeyFile}: ${(err as Error).message}`, { cause: err }) })
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    throw new CertificateError(`the CA key --ca-key ${caKeyFile} is not a PEM private key`, { cause: err })
  }
  const spki = (k: KeyObject): string => k.export({ format: 'der', type: 'spki' }).toString('hex')
  if (spki(createPublicKey(privateKey)) !== spki(new X509Certificate(caCert).publicKey)) throw new CertificateError(`the CA key --ca-key ${caKeyFile} is not the key of this node's grid CA (the CA certificate it was started with)`)
  return { key, tokens: new TokenStore(join(caKeyFile, '..')) }
}
