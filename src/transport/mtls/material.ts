import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CertificateError } from '../../errors.ts'

/**
 * The PEM texts a node needs: the grid CA, and its own certificate and key.
 * `outbound` optionally gives a separate pair presented when dialling; it must
 * carry the same key, because the key is the node's one identity.
 */
export interface TlsMaterial {
  ca: string
  cert: string
  key: string
  outbound?: { cert: string, key: string }
}

/** Reads `DIR/ca.crt`, `DIR/NAME.crt` and `DIR/NAME.key`. */
export async function loadCerts (dir: string, name = 'node'): Promise<TlsMaterial> {
  return {
    ca: await readPem(join(dir, 'ca.crt'), 'CA certificate'),
    cert: await readPem(join(dir, `${name}.crt`), 'certificate'),
    key: await readPem(join(dir, `${name}.key`), 'key')
  }
}

async function readPem (path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new CertificateError(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** PEM text as is, anything else is taken as a file path (for GRID_TLS_* variables). */
export async function readPemOrPath (value: string, what: string): Promise<string> {
  return value.includes('-----BEGIN') ? value : await readPem(value, what)
}

/**
 * Checks the material before the node starts, so a wrong file fails with a
 * clear message instead of as a handshake error on every connection.
 */
export function checkMaterial (tls: TlsMaterial): void {
  const ca = parseCert(tls.ca, 'CA certificate')
  if (!ca.ca) throw new CertificateError(`the CA certificate (${ca.subject}) is not a CA`)
  if (Date.parse(ca.validTo) < Date.now()) throw new CertificateError(`the CA certificate (${ca.subject}) expired on ${ca.validTo}: no certificate it signed is valid; make a new CA and certificates (\`grid certs init\`)`)
  if (Date.parse(ca.validFrom) > Date.now()) throw new CertificateError(`the CA certificate (${ca.subject}) is not valid before ${ca.validFrom} (is this machine's clock right?)`)
  const pairs = [{ cert: tls.cert, key: tls.key, what: 'certificate' }]
  if (tls.outbound != null) pairs.push({ ...tls.outbound, what: 'outbound certificate' })
  let identity: string | undefined
  for (const { cert, key, what } of pairs) {
    const x = parseCert(cert, what)
    const privateKey = parseKey(key)
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new CertificateError(`the ${what}'s key must be Ed25519 (it is the node's libp2p identity), got ${privateKey.asymmetricKeyType}`)
    if (!x.checkPrivateKey(privateKey)) throw new CertificateError(`the ${what} (${x.subject}) does not match its key`)
    if (!x.checkIssued(ca) || !x.verify(ca.publicKey)) throw new CertificateError(`the ${what} (${x.subject}) is not signed by the grid CA (${ca.subject})`)
    const now = Date.now()
    if (Date.parse(x.validTo) < now) throw new CertificateError(`the ${what} (${x.subject}) expired on ${x.validTo}`)
    if (Date.parse(x.validFrom) > now) throw new CertificateError(`the ${what} (${x.subject}) is not valid before ${x.validFrom}`)
    const fingerprint = x.publicKey.export({ format: 'der', type: 'spki' }).toString('hex')
    if (identity != null && identity !== fingerprint) throw new CertificateError('the outbound certificate must carry the same key as the inbound one (one key, one identity)')
    identity = fingerprint
  }
}

export function parseCert (pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch (err) {
    throw new CertificateError(`the ${what} is not a PEM certificate`, { cause: err })
  }
}

function parseKey (pem: string): ReturnType<typeof createPrivateKey> {
  try {
    return createPrivateKey(pem)
  } catch (err) {
    throw new CertificateError('the key is not a PEM private key', { cause: err })
  }
}
