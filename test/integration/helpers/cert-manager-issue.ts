/**
 * A certificate made the way cert-manager's CA Issuer makes one from a
 * Certificate resource, with openssl (an implementation independent of
 * gridd's own certificate code): a private key of `spec.privateKey.algorithm`
 * (cert-manager's default is RSA), a CSR with the spec's subject and SANs
 * (dnsNames, uris), signed by the CA with the spec's `usages` as key usage
 * and extended key usage, basic constraints CA:FALSE and the CA's key id, for
 * `spec.duration`. The result is what cert-manager puts in the Certificate's
 * Secret: `tls.crt`, `tls.key` (PKCS#8 PEM), `ca.crt`.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface CertificateSpec {
  commonName?: string
  dnsNames?: string[]
  uris?: string[]
  usages?: string[]
  duration?: string
  privateKey?: { algorithm?: string, encoding?: string }
}

/** cert-manager's usage names as openssl spells them: key usages and extended key usages. */
const KEY_USAGES: Record<string, string> = { 'digital signature': 'digitalSignature', 'key encipherment': 'keyEncipherment', 'cert sign': 'keyCertSign' }
const EXTENDED_USAGES: Record<string, string> = { 'server auth': 'serverAuth', 'client auth': 'clientAuth' }

const KEY_ALGORITHMS: Record<string, string[]> = {
  Ed25519: ['-algorithm', 'ed25519'],
  ECDSA: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  RSA: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
}

const openssl = (args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/** `2160h` (cert-manager's Go duration) in whole days, at least 1; cert-manager's default is 90 days. */
function durationDays (duration: string | undefined): number {
  const hours = duration == null ? 2160 : Number(/^(\d+)h$/.exec(duration)?.[1])
  if (!Number.isFinite(hours)) throw new Error(`duration ${String(duration)}: only whole hours here`)
  return Math.max(1, Math.floor(hours / 24))
}

/** Issues `spec` with the CA in `ca` (PEM files) into `dir` as cert-manager's Secret would hold it: tls.crt, tls.key, ca.crt. */
export function issueLikeCertManager (spec: CertificateSpec, ca: { cert: string, key: string }, dir: string): void {
  mkdirSync(dir, { recursive: true })
  // beside the Secret's directory: it holds only what cert-manager writes
  const work = `${dir}.work`
  mkdirSync(work)
  const key = join(work, 'key.pem')
  const csr = join(work, 'csr.pem')
  const leaf = join(work, 'cert.pem')
  const ext = join(work, 'ext.cnf')
  const algorithm = spec.privateKey?.algorithm ?? 'RSA'
  openssl(['genpkey', ...KEY_ALGORITHMS[algorithm]!, '-out', key])
  const sans = [...(spec.dnsNames ?? []).map(d => `DNS:${d}`), ...(spec.uris ?? []).map(u => `URI:${u}`)]
  const subject = spec.commonName == null ? '/' : `/CN=${spec.commonName}`
  openssl(['req', '-new', '-key', key, '-subj', subject, ...(sans.length > 0 ? ['-addext', `subjectAltName=${sans.join(',')}`] : []), '-out', csr])
  const usages = spec.usages ?? ['digital signature', 'key encipherment']
  const keyUsages = usages.filter(u => KEY_USAGES[u] != null).map(u => KEY_USAGES[u]!)
  const extended = usages.filter(u => EXTENDED_USAGES[u] != null).map(u => EXTENDED_USAGES[u]!)
  writeFileSync(ext, [
    'basicConstraints=critical,CA:FALSE',
    keyUsages.length > 0 ? `keyUsage=critical,${keyUsages.join(',')}` : '',
    extended.length > 0 ? `extendedKeyUsage=${extended.join(',')}` : '',
    sans.length > 0 ? `subjectAltName=${sans.join(',')}` : '',
    'authorityKeyIdentifier=keyid'
  ].filter(l => l !== '').join('\n') + '\n')
  // a random positive 128-bit serial, as cert-manager draws one
  const serial = `0x${(randomBytes(16)[0]! & 0x7f).toString(16).padStart(2, '0')}${randomBytes(15).toString('hex')}`
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial, '-days', String(durationDays(spec.duration)), '-extfile', ext, '-out', leaf])
  writeFileSync(join(dir, 'tls.crt'), readFileSync(leaf))
  writeFileSync(join(dir, 'tls.key'), readFileSync(key), { mode: 0o600 })
  writeFileSync(join(dir, 'ca.crt'), readFileSync(ca.cert))
}
