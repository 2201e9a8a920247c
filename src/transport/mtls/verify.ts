import { X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { PeerId } from '@libp2p/interface'
import { TlsRefusedError } from '../../errors.ts'
import { peerIdFromCertificate } from '../identity.ts'
import { rolesOfCertificate } from '../../trust/roles.ts'
import type { PeerCredential } from '../../trust/credentials.ts'

/** Why a connection was refused: stable values for logs and tests. */
export const REFUSAL = {
  noCertificate: 'no-certificate',
  untrustedCa: 'untrusted-ca',
  expired: 'expired',
  notYetValid: 'not-yet-valid',
  wrongPeerId: 'wrong-peer-id',
  wrongKeyType: 'wrong-key-type',
  wrongUsage: 'wrong-usage',
  noRole: 'no-role',
  revoked: 'revoked',
  handshakeFailed: 'handshake-failed',
  noHandshake: 'no-handshake'
} as const

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

/**
 * Checks the remote side of a finished TLS 1.3 handshake: a certificate is
 * present, is signed by the grid CA,
 * it and the CA are within their validity, may be used for this direction, carries an Ed25519
 * key, and that key is the peer id we dialled (if we dialled one); it holds
 * at least one gridd role and is not revoked.
 */
export function verifyRemote (socket: TLSSocket, ca: X509Certificate, isServer: boolean, expectedPeer?: PeerId, isRevoked?: (serial: string) => boolean): { remotePeer: PeerId, credential: PeerCredential } {
  const presented = socket.getPeerCertificate(false)
  if (presented?.raw == null) {
    throw new TlsRefusedError(REFUSAL.noCertificate, 'the peer presented no certificate')
  }
  const cert = new X509Certificate(presented.raw)
  const cn = presented.subject?.CN
  const name = Array.isArray(cn) ? cn.join(',') : (cn ?? cert.subject)
  // checked here rather than via socket.authorized: a server-side TLSSocket made
  // outside tls.Server never sets it, and explicit checks give each refusal its reason
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new TlsRefusedError(REFUSAL.untrustedCa, `the peer's certificate (${name}, issued by ${presented.issuer?.CN ?? '?'}) is not signed by the grid CA`)
  }
  const now = Date.now()
  // OpenSSL's chain check (which also checks the CA's dates) is not used, so the CA's dates are checked here
  const caNotAfter = Date.parse(ca.validTo)
  if (caNotAfter < now) throw new TlsRefusedError(REFUSAL.expired, `the grid CA certificate (${ca.subject}) expired on ${ca.validTo}: no certificate it signed is valid any more`)
  if (Date.parse(ca.validFrom) > now) throw new TlsRefusedError(REFUSAL.notYetValid, `the grid CA certificate (${ca.subject}) is not valid before ${ca.validFrom}`)
  if (Date.parse(cert.validTo) < now) throw new TlsRefusedError(REFUSAL.expired, `the peer's certificate (${name}) expired on ${cert.validTo}`)
  if (Date.parse(cert.validFrom) > now) throw new TlsRefusedError(REFUSAL.notYetValid, `the peer's certificate (${name}) is not valid before ${cert.validFrom}`)
  const usages = presented.ext_key_usage
  const needed = isServer ? CLIENT_AUTH : SERVER_AUTH
  if (Array.isArray(usages) && usages.length > 0 && !usages.includes(needed)) {
    throw new TlsRefusedError(REFUSAL.wrongUsage, `the peer's certificate may not be used as a TLS ${isServer ? 'client' : 'server'}`)
  }
  const remotePeer = peerIdFromCertificate(cert)
  if (remotePeer == null) {
    throw new TlsRefusedError(REFUSAL.wrongKeyType, 'the peer\'s certificate key is not Ed25519, so it cannot be a gridd identity')
  }
  if (expectedPeer != null && !expectedPeer.equals(remotePeer)) {
    throw new TlsRefusedError(REFUSAL.wrongPeerId, `expected peer ${expectedPeer.toString()} but the certificate is for ${remotePeer.toString()}`)
  }
  const serial = normalizeSerial(cert.serialNumber)
  if (isRevoked?.(serial) === true) throw new TlsRefusedError(REFUSAL.revoked, `the peer's certificate (${name}, serial ${serial}) is revoked`)
  const roles = rolesOfCertificate(cert)
  if (roles.size === 0) {
    throw new TlsRefusedError(REFUSAL.noRole, `the peer's certificate (${name}) holds no gridd role (made before roles existed?): reissue it with \`grid certs issue ${name} --role member,agent\``)
  }
  // an open connection ends when the certificate or the CA that signed it expires, whichever comes first
  return { remotePeer, credential: { name, serial, roles, notAfter: Math.min(Date.parse(cert.validTo), caNotAfter) } }
}

/** Serials as CRLs and `grid certs revoke` name them: lower-case hex without leading zeros. */
export function normalizeSerial (serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, '')
}
