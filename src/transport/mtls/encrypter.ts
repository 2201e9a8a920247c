import { X509Certificate } from 'node:crypto'
import { TLSSocket, connect } from 'node:tls'
import type { TLSSocketOptions } from 'node:tls'
import { serviceCapabilities } from '@libp2p/interface'
import type { ConnectionEncrypter, SecuredConnection, SecureConnectionOptions, StreamMuxerFactory, MessageStream, Upgrader, PrivateKey, ComponentLogger } from '@libp2p/interface'
import { toNodeDuplex, toMessageStream } from './socket-bridge.ts'
import { PROTOCOL } from './constants.ts'
import { verifyRemote, REFUSAL } from './verify.ts'
import { RefusalLog, remoteHost } from './refusal-log.ts'
import type { TlsMaterial } from './material.ts'
import type { PeerCredential } from '../../trust/credentials.ts'
import type { Logger } from '../../logger.ts'
import type { RefusedConnections } from '../refused-connections.ts'
import { TlsRefusedError } from '../../errors.ts'

export interface MutualTlsComponents {
  privateKey: PrivateKey
  logger: ComponentLogger
  upgrader: Upgrader
}

export interface MutualTlsInit {
  material: TlsMaterial
  log: Logger
  /** Told of every connection that reached this encrypter: from then on it reports the outcome itself. */
  onNegotiated?: (connection: MessageStream) => void
  /** Told of every verified peer, and the raw connection it presented the certificate on, before libp2p sees the connection (its roles decide what it may do). */
  onVerified?: (peer: string, credential: PeerCredential, connection: MessageStream) => void
  /** A revoked certificate's serial (normalized hex) is refused at the handshake. */
  isRevoked?: (serial: string) => boolean
  /** Counts every refusal (the log holds one line a minute per host and reason). */
  refused?: RefusedConnections
}

/**
 * libp2p connection encrypter for CA-rooted mutual TLS, modelled on
 * @libp2p/tls: TLS 1.3 only, both sides present a certificate signed by the
 * grid CA, and the remote peer id is derived from the verified certificate.
 */
export class MutualTls implements ConnectionEncrypter {
  readonly protocol = PROTOCOL
  readonly [Symbol.toStringTag] = 'gridd/mtls'
  readonly [serviceCapabilities]: string[] = ['@libp2p/connection-encryption']

  private readonly components: MutualTlsComponents
  private readonly material: TlsMaterial
  private readonly ca: X509Certificate
  private readonly refusals: RefusalLog
  private readonly onNegotiated?: (connection: MessageStream) => void
  private readonly onVerified?: (peer: string, credential: PeerCredential, connection: MessageStream) => void
  private readonly isRevoked?: (serial: string) => boolean
  private readonly refused?: RefusedConnections

  constructor (components: MutualTlsComponents, init: MutualTlsInit) {
    this.components = components
    this.material = init.material
    this.ca = new X509Certificate(init.material.ca)
    this.refusals = new RefusalLog(init.log)
    this.onNegotiated = init.onNegotiated
    this.onVerified = init.onVerified
    this.isRevoked = init.isRevoked
    this.refused = init.refused
  }

  async secureInbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
    return await this.encrypt(connection, true, options)
  }

  async secureOutbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
    return await this.encrypt(connection, false, options)
  }

  private socketOptions (isServer: boolean, onMuxer: (muxer: StreamMuxerFactory | undefined) => void, skipMuxer: boolean): TLSSocketOptions {
    const pair = !isServer && this.material.outbound != null ? this.material.outbound : this.material
    const muxers = skipMuxer ? [] : [...this.components.upgrader.getStreamMuxers().keys()]
    return {
      ca: this.material.ca,
      cert: pair.cert,
      key: pair.key,
      isServer,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      // verification happens in verifyRemote so each refusal gets its own reason
      rejectUnauthorized: false,
      // early muxer negotiation via ALPN, as @libp2p/tls does
      ALPNProtocols: [...muxers, 'libp2p'],
      ALPNCallback: ({ protocols }) => {
        let chosen: string | undefined
        for (const protocol of protocols) {
          if (protocol === 'libp2p') chosen = 'libp2p'
          const muxer = this.components.upgrader.getStreamMuxers().get(protocol)
          if (muxer != null) {
            onMuxer(muxer)
            return protocol
          }
        }
        return chosen
      }
    }
  }

  private async encrypt (connection: MessageStream, isServer: boolean, options?: SecureConnectionOptions): Promise<SecuredConnection> {
    this.onNegotiated?.(connection)
    let streamMuxer: StreamMuxerFactory | undefined
    const skipMuxer = options?.skipStreamMuxerNegotiation === true
    const opts = this.socketOptions(isServer, m => { streamMuxer = m }, skipMuxer)
    const duplex = toNodeDuplex(connection)
    const socket: TLSSocket = isServer
      ? new TLSSocket(duplex, { ...opts, requestCert: true })
      // the grid identity is the peer id in the certificate, not a host name
      : connect({ socket: duplex, ...opts, checkServerIdentity: () => undefined })
    duplex.on('error', err => socket.emit('error', err))

    const remote = String((connection as { remoteAddr?: unknown }).remoteAddr ?? 'unknown')
    const onAbort = (): void => { socket.emit('error', new TlsRefusedError(REFUSAL.handshakeFailed, 'the TLS handshake timed out')) }
    options?.signal?.addEventListener('abort', onAbort)

    try {
      return await new Promise<SecuredConnection>((resolve, reject) => {
        let settled = false
        const fail = (err: Error, graceful: boolean): void => {
          if (settled) return
          settled = true
          this.refuse(isServer, remote, err)
          if (graceful) {
            // a FIN rather than a reset, so the other side still reads our
            // certificate and logs its own reason instead of ECONNRESET
            socket.end()
            connection.close({ signal: AbortSignal.timeout(2000) }).catch(() => { connection.abort(err) })
          } else {
            socket.destroy()
            connection.abort(err)
          }
          reject(err)
        }
        socket.on('error', (err: Error) => {
          if (settled) {
            // after the handshake an error is the connection's end, not a refusal
            socket.destroy()
            connection.abort(err)
            return
          }
          fail(err, false)
        })
        socket.once('secure', () => {
          try {
            const { remotePeer, credential } = verifyRemote(socket, this.ca, isServer, options?.remotePeer, this.isRevoked)
            this.onVerified?.(remotePeer.toString(), credential, connection)
            if (!isServer && !skipMuxer && typeof socket.alpnProtocol === 'string' && socket.alpnProtocol !== 'libp2p') {
              streamMuxer = this.components.upgrader.getStreamMuxers().get(socket.alpnProtocol)
            }
            settled = true
            resolve({ remotePeer, connection: toMessageStream(connection, socket), streamMuxer })
          } catch (err) {
            fail(err as Error, true)
          }
        })
      })
    } finally {
      options?.signal?.removeEventListener('abort', onAbort)
    }
  }

  private refuse (isServer: boolean, remote: string, err: Error): void {
    const reason = err instanceof TlsRefusedError ? err.reason : REFUSAL.handshakeFailed
    this.refused?.count(isServer ? 'inbound' : 'outbound', reason)
    this.refusals.warn(remoteHost(remote), reason, { remote, direction: isServer ? 'inbound' : 'outbound', reason, err }, `refused ${isServer ? 'inbound' : 'outbound'} connection ${isServer ? 'from' : 'to'} ${remote}: ${err.message}`)
  }
}

export function mutualTls (init: MutualTlsInit): (components: MutualTlsComponents) => ConnectionEncrypter {
  return (components) => new MutualTls(components, init)
}
