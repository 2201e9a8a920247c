import type { ConnectionGater, MultiaddrConnection, MessageStream } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import { REFUSAL } from './mtls/verify.ts'

/**
 * Logs inbound connections that closed before they even reached the mTLS
 * encrypter (which reports everything after that itself): plaintext, garbage
 * bytes, a stock libp2p peer offering other encryption, or a dialler that
 * gave up. libp2p itself only reports these in its debug log.
 */
export class InboundAudit {
  private readonly log: Logger
  private readonly settled = new WeakSet<object>()

  constructor (log: Logger) {
    this.log = log
  }

  /** Protocol negotiation reached the encrypter, which reports the outcome. */
  negotiated (connection: MessageStream): void {
    this.settled.add(connection)
  }

  gater (): ConnectionGater {
    return {
      denyInboundConnection: (maConn: MultiaddrConnection) => {
        maConn.addEventListener('close', () => {
          if (this.settled.has(maConn)) return
          const remote = maConn.remoteAddr.toString()
          this.log.warn({ remote, direction: 'inbound', reason: REFUSAL.noHandshake },
            `refused inbound connection from ${remote}: it closed without negotiating gridd mTLS (plaintext, garbage or another protocol)`)
        }, { once: true })
        return false
      },
      denyInboundEncryptedConnection: (_peer, maConn) => {
        this.settled.add(maConn)
        return false
      }
    }
  }
}
