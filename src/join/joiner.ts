import { connect } from 'node:tls'
import type { TLSSocket } from 'node:tls'
import { once } from 'node:events'
import { X509Certificate } from 'node:crypto'
import * as v from 'valibot'
import { x509, webcrypto } from '../certs/x509.ts'
import { exportKey, generateKeys } from '../certs/create.ts'
import { checkMaterial } from '../transport/mtls/material.ts'
import type { TlsMaterial } from '../transport/mtls/material.ts'
import { JoinError } from '../errors.ts'
import { causeText } from '../errors/base.ts'
import { rolesOfCertificate } from '../trust/roles.ts'
import type { Role } from '../trust/roles.ts'
import { certificateHash, requestMac } from './token.ts'
import type { JoinToken } from './token.ts'
import { JOIN_EXCHANGE_TIMEOUT_MS, joinResponse, readLine, writeLine } from './wire.ts'

export interface JoinRequestInit {
  token: JoinToken
  /** The issuing node's join listener. */
  host: string
  port: number
  /** The certificate name asked for (its CN and DNS SAN). */
  name: string
  signal?: AbortSignal
}

export interface Joined {
  tls: TlsMaterial
  roles: Role[]
  /** The issuer's libp2p addresses. */
  addresses: string[]
}

/**
 * Makes an Ed25519 key and asks the node at `host:port` to certify it. The
 * issuer is trusted only if the CA certificate it presents (in its TLS chain)
 * hashes to the token's CA hash and signed the certificate it presents, both
 * within their dates, that certificate holding the member role: no trust on first use. The request carries no secret, only the HMAC of the CSR with it.
 */
export async function requestJoin (init: JoinRequestInit): Promise<Joined> {
  const keys = await generateKeys()
  const csr = (await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${init.name}`, keys, signingAlgorithm: { name: 'Ed25519' } }, webcrypto)).toString('pem')
  const signal = AbortSignal.any([AbortSignal.timeout(JOIN_EXCHANGE_TIMEOUT_MS), ...(init.signal == null ? [] : [init.signal])])
  const socket = connect({ host: init.host, port: init.port, minVersion: 'TLSv1.3', rejectUnauthorized: false })
  const onAbort = (): void => { socket.destroy(signal.reason as Error) }
  signal.addEventListener('abort', onAbort)
  try {
    await once(socket, 'secureConnect', { signal })
    const ca = checkIssuer(socket, init.token)
    writeLine(socket, { v: 1, token: init.token.id, csr, mac: requestMac(init.token.secret, Buffer.from(csr)) })
    const parsed = v.safeParse(joinResponse, await readLine(socket))
    if (!parsed.success) throw new JoinError(`the issuer's answer is malformed: ${parsed.issues[0].message}`)
    const answer = parsed.output
    if (!answer.ok) throw new JoinError(`the issuer refused: ${answer.error}`)
    if (certificateHash(answer.ca) !== certificateHash(ca)) throw new JoinError('the issuer answered with another CA than the one it presented')
    const tls: TlsMaterial = { ca: answer.ca, cert: answer.cert, key: await exportKey(keys.privateKey) }
    // the certificate must be the CA's, for our key, valid now
    checkMaterial(tls)
    return { tls, roles: answer.roles, addresses: answer.addresses }
  } catch (err) {
    if (err instanceof JoinError) throw err
    throw new JoinError(joinFailure(init, err), { cause: err, retryable: true })
  } finally {
    signal.removeEventListener('abort', onAbort)
    socket.destroy()
  }
}

/**
 * Why a join exchange failed. Refused outright is the newcomer's usual mistake: --peer names a member
 * started without --ca-key (none listens for joins), or its join port is not the libp2p port + 1.
 */
function joinFailure (init: JoinRequestInit, err: unknown): string {
  const at = `${init.host}:${init.port}`
  if ((err as NodeJS.ErrnoException)?.code === 'ECONNREFUSED') {
    return `nothing accepts joins at ${at} (connection refused): --peer must name a node started with --ca-key, and its join listener is on its libp2p port + 1 unless it was given --join-port (then give the joiner the same --join-port)`
  }
  return `join through ${at} failed${causeText(err)}`
}

/** The CA from the issuer's TLS chain, once it matches the token's hash and signed the issuer's certificate (a member's, valid now). */
function checkIssuer (socket: TLSSocket, token: JoinToken): X509Certificate {
  // the detailed chain, not getPeerX509Certificate(): that one came back empty here (Node 24, an unverified peer)
  let detail = socket.getPeerCertificate(true)
  const leaf = detail?.raw == null ? undefined : new X509Certificate(detail.raw)
  let ca: X509Certificate | undefined
  // walk the chain the server sent (a self-issued certificate is its own issuer: stop there)
  for (let depth = 0; depth < 4 && detail?.raw != null; depth++) {
    if (certificateHash(new X509Certificate(detail.raw)) === token.caHash) { ca = new X509Certificate(detail.raw); break }
    if (detail.issuerCertificate == null || detail.issuerCertificate === detail) break
    detail = detail.issuerCertificate
  }
  if (ca == null || leaf == null) throw new JoinError('the node reached does not present the CA of the token (hash mismatch): not this grid, or someone in between')
  if (!ca.ca) throw new JoinError('the certificate matching the token\'s CA hash is not a CA')
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) throw new JoinError('the node reached presents a certificate not signed by the token\'s CA')
  // signed by the CA is not enough: an expired certificate, or a client's, is no grid node to join through
  const now = Date.now()
  for (const [what, cert] of [['CA certificate', ca], ['certificate', leaf]] as const) {
    if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now) {
      throw new JoinError(`the node reached presents a ${what} (${cert.subject}) outside its validity (${cert.validFrom} to ${cert.validTo})`)
    }
  }
  if (!rolesOfCertificate(leaf).has('member')) throw new JoinError(`the node reached presents a certificate (${leaf.subject}) without the member role: it is not a grid node`)
  return ca
}
