import { createServer } from 'node:tls'
import type { Server, TLSSocket } from 'node:tls'
import { once } from 'node:events'
import { X509Certificate } from 'node:crypto'
import { dirname } from 'node:path'
import * as v from 'valibot'
import { x509, webcrypto } from '../certs/x509.ts'
import { signCertificate, checkName } from '../certs/create.ts'
import type { CertKeyPair } from '../certs/create.ts'
import { IssuedLog } from '../certs/issued.ts'
import { normalizeSerial } from '../transport/mtls/verify.ts'
import { peerIdFromCertificate } from '../transport/identity.ts'
import type { Logger } from '../logger.ts'
import { describeRoles } from '../trust/roles.ts'
import { FailureLimiter } from './rate-limit.ts'
import { RefusalLog } from '../transport/mtls/refusal-log.ts'
import { issueText } from '../transport/json-stream.ts'
import { macMatches } from './token.ts'
import type { TokenRecord, TokenStore } from './token-store.ts'
import { JOIN_EXCHANGE_TIMEOUT_MS, joinRequest, readLine, writeLine } from './wire.ts'
import type { JoinResponse } from './wire.ts'

export interface JoinIssuerInit {
  /** The grid CA: certificate and private key. */
  ca: CertKeyPair
  /** This node's own certificate and key: the join listener presents them (with the CA certificate). */
  server: CertKeyPair
  tokens: TokenStore
  /** Where each issued certificate is recorded, for `grid certs revoke <name>` (default: beside the tokens file). */
  issued?: IssuedLog
  host: string
  port: number
  /** The node's libp2p addresses, handed to every joiner to dial. */
  addresses: () => string[]
  log: Logger
  /** Validity of issued certificates in days (default: the certs default). */
  validityDays?: number
  limiter?: FailureLimiter
}

/** Joins served at once; more wait in the kernel's backlog. */
const MAX_CONNECTIONS = 32

/**
 * The issuing side of `grid node --join`: a TLS 1.3 listener of its own, apart
 * from the libp2p port. A joiner has no certificate yet, so it cannot pass the
 * grid's mutual TLS; this listener asks for none, speaks only this one
 * request/response exchange (size-limited, schema-checked, 10 s), and admits a
 * request only with a valid token's HMAC. Nothing else of the node is reachable
 * through it.
 */
export class JoinIssuer {
  private readonly init: JoinIssuerInit
  private readonly limiter: FailureLimiter
  private readonly issued: IssuedLog
  private server?: Server
  private readonly sockets = new Set<TLSSocket>()
  /** Anyone may connect, from as many addresses as they hold: refusals are logged at most 100 lines a minute in all. */
  private readonly refusals: RefusalLog

  constructor (init: JoinIssuerInit) {
    this.init = init
    this.refusals = new RefusalLog(init.log)
    this.limiter = init.limiter ?? new FailureLimiter()
    this.issued = init.issued ?? new IssuedLog(dirname(init.tokens.path))
  }

  async start (): Promise<{ host: string, port: number }> {
    const server = createServer({
      cert: `${this.init.server.cert.trim()}\n${this.init.ca.cert.trim()}\n`,
      key: this.init.server.key,
      minVersion: 'TLSv1.3',
      handshakeTimeout: JOIN_EXCHANGE_TIMEOUT_MS
    }, socket => { void this.serve(socket) })
    server.maxConnections = MAX_CONNECTIONS
    // a failed handshake (a scanner, plaintext) is that client's problem: logged at debug only
    server.on('tlsClientError', (err, socket) => { this.init.log.debug({ err, from: socket.remoteAddress }, 'join listener: TLS handshake failed') })
    server.listen(this.init.port, this.init.host)
    await once(server, 'listening')
    this.server = server
    const address = server.address()
    const port = typeof address === 'object' && address != null ? address.port : this.init.port
    this.init.log.info({ host: this.init.host, port }, 'join service listening: nodes may join with a token')
    return { host: this.init.host, port }
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  private async serve (socket: TLSSocket): Promise<void> {
    this.sockets.add(socket)
    socket.setTimeout(JOIN_EXCHANGE_TIMEOUT_MS, () => { socket.destroy() })
    socket.on('error', () => {})
    socket.on('close', () => { this.sockets.delete(socket) })
    const from = socket.remoteAddress ?? 'unknown'
    let response: JoinResponse
    if (this.limiter.blocked(from)) {
      response = { v: 1, ok: false, error: 'too many failed join attempts from this address; try again later' }
    } else {
      response = await readLine(socket).then(
        async body => await this.answer(body, from).catch((err: unknown) => {
          // the issuer's own failure (the tokens file, signing): not the joiner's, so not counted against it
          this.init.log.error({ err, from }, 'join failed on the issuer')
          return { v: 1, ok: false, error: 'the issuer failed; try again later' } as const
        }),
        (err: unknown) => this.refuse(from, 'unreadable request', err))
    }
    writeLine(socket, response)
    socket.end()
  }

  private async answer (body: unknown, from: string): Promise<JoinResponse> {
    const parsed = v.safeParse(joinRequest, body)
    if (!parsed.success) return this.refuse(from, `malformed request: ${issueText(parsed.issues[0].message)}`)
    const request = parsed.output
    let csr: x509.Pkcs10CertificateRequest
    let name: string
    try {
      csr = new x509.Pkcs10CertificateRequest(request.csr)
      if (!await csr.verify(webcrypto)) return this.refuse(from, 'the CSR\'s signature does not verify')
      if (csr.publicKey.algorithm.name !== 'Ed25519') return this.refuse(from, 'the CSR key must be Ed25519 (it becomes the libp2p identity)')
      name = checkName(csr.subjectName.getField('CN')[0] ?? '')
    } catch (err) {
      return this.refuse(from, 'bad CSR', err)
    }
    // the MAC is checked under the store's lock, against the record the use is counted on
    const used = await this.init.tokens.consume(request.token, token => macMatches(token.secret, Buffer.from(request.csr), request.mac) ? undefined : 'bad token secret')
    if ('refused' in used) return this.refuse(from, `token ${request.token}: ${used.refused}`)
    let issued: { cert: string, serial: string, peerId: string }
    try {
      issued = await this.issue(csr, name, used)
    } catch (err) {
      // nothing was sent: the use is given back, so a --uses 1 token is not spent by the issuer's own failure
      await this.init.tokens.release(used.id).catch((releaseErr: unknown) => { this.init.log.error({ err: releaseErr, token: used.id }, `could not give back the use of token ${used.id} after a failed join`) })
      throw err
    }
    this.init.log.info({ from, name, serial: issued.serial, peerId: issued.peerId, token: used.id, roles: describeRoles(used.roles), used: used.used, uses: used.uses }, 'issued a certificate to a joining node')
    return { v: 1, ok: true, cert: issued.cert, ca: this.init.ca.cert, roles: used.roles, addresses: this.init.addresses() }
  }

  /** Signs the joiner's certificate and records it: recorded before it is handed out, so a certificate nobody could revoke by name is never sent. */
  private async issue (csr: x509.Pkcs10CertificateRequest, name: string, used: TokenRecord): Promise<{ cert: string, serial: string, peerId: string }> {
    const cert = await signCertificate(this.init.ca, csr.publicKey, { name, roles: used.roles, validityDays: this.init.validityDays })
    const x509cert = new X509Certificate(cert)
    const serial = normalizeSerial(x509cert.serialNumber)
    const peerId = peerIdFromCertificate(x509cert)?.toString() ?? ''
    await this.issued.add({ serial, name, peerId, token: used.id, issuedAt: Date.now(), notAfter: Date.parse(x509cert.validTo) })
    return { cert, serial, peerId }
  }

  /** Counts the failure for `from` and logs it (once it is blocked, its further attempts are not logged). */
  private refuse (from: string, reason: string, err?: unknown): JoinResponse {
    const failures = this.limiter.fail(from)
    if (this.limiter.blocked(from)) {
      if (failures === this.limiter.maxFailures) this.refusals.warn(from, 'blocked', { from, failures }, 'join refused: too many failed attempts, this address is refused for a while')
    } else {
      this.refusals.warn(from, reason, { from, reason, err }, 'join refused')
    }
    return { v: 1, ok: false, error: `join refused: ${reason}` }
  }
}
