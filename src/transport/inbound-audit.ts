import type { ConnectionGater, MultiaddrConnection, MessageStream } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import { REFUSAL } from './mtls/verify.ts'
import { RefusalLog, remoteHost } from './mtls/refusal-log.ts'
import type { RefusedConnections } from './refused-connections.ts'

/**
 * Logs inbound connections that closed before they even reached the mTLS
 * encrypter (which reports everything after that itself): plaintext, garbage
 * bytes, a stock libp2p peer offering other encryption, or a dialler that
 * gave up. libp2p itself only reports these in its debug log. Anyone can open
 * a TCP connection, so the lines are rate-limited like the encrypter's refusals
 * (once a minute per host, with a count).
 */
export class InboundAudit {
  private readonly refusals: RefusalLog
  private readonly settled = new WeakSet<object>()
  private readonly refused?: RefusedConnections

  constructor (log: Logger, refused?: RefusedConnections) {
    this.refusals = new RefusalLog(log)
    this.refused = refused
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
          this.refused?.count('inbound', REFUSAL.noHandshake)
          this.refusals.warn(remoteHost(remote), REFUSAL.noHandshake, { remote, direction: 'inbound', reason: REFUSAL.noHandshake },
            `refused inbound connection from ${remote}: it closed without negotiating gridd mTLS (plaintext, garbage, another protocol, or a dialler that gave up waiting, as members do while this node is paused or stalled)`)
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
