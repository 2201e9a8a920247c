import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import { PeerCredentials } from './credentials.ts'
import { CrlStore } from './crl-store.ts'
import { Revocation } from './revocation.ts'
import type { RevocationLibp2p } from './revocation.ts'
import { CertificateExpiry } from './expiry.ts'
import { normalizeSerial } from '../transport/mtls/verify.ts'
import type { TlsMaterial } from '../transport/mtls/material.ts'
import type { RejectedCount } from '../transport/rejections.ts'
import type { Service } from '../lifecycle/service.ts'
import type { Logger } from '../logger.ts'
import { RefusedConnections } from '../transport/refused-connections.ts'

/** The CRL file in a node's data dir. */
export const CRL_FILE = 'crl.pem'

export interface NodeTrustInit {
  tls: TlsMaterial
  /** A CRL (PEM) to hold from the start; throws CrlError if it does not verify against the CA. */
  crl?: string
  certificateCheckMs: number
}

/**
 * A node's trust state beyond the handshake: the verified credentials of its
 * peers, the newest CRL (refused at the handshake through `isRevoked`), and
 * the services that enforce revocation and expiry on open connections.
 */
export class NodeTrust {
  readonly credentials: PeerCredentials
  readonly crls: CrlStore
  /** The earliest notAfter of this node's certificates (ms since the epoch). */
  readonly ownNotAfter: number
  private readonly caNotAfter: number
  /** The serials of every certificate this node presents (its outbound one too, when it has its own). */
  private readonly ownSerials: string[]
  private readonly checkMs: number
  private readonly log: Logger
  private revocation?: Revocation

  constructor (init: NodeTrustInit, log: Logger) {
    this.log = log
    this.credentials = new PeerCredentials(log)
    this.crls = new CrlStore(init.tls.ca, log)
    if (init.crl != null) this.crls.offerPem(init.crl)
    const own = new X509Certificate(init.tls.cert)
    const outbound = init.tls.outbound == null ? undefined : new X509Certificate(init.tls.outbound.cert)
    this.ownSerials = [own, ...(outbound == null ? [] : [outbound])].map(certificate => normalizeSerial(certificate.serialNumber))
    this.ownNotAfter = Math.min(Date.parse(own.validTo), outbound == null ? Infinity : Date.parse(outbound.validTo))
    this.caNotAfter = Date.parse(new X509Certificate(init.tls.ca).validTo)
    this.checkMs = init.certificateCheckMs
  }

  /** Connections refused at the handshake, each counted (createGridLibp2p's `refused`; `gridd_refused_connections_total`). */
  readonly refused = new RefusedConnections()
  /** For the handshake (createGridLibp2p's `isRevoked`). */
  readonly isRevoked = (serial: string): boolean => this.crls.isRevoked(serial)

  /**
   * Two services: the stored CRL loads before libp2p listens (so the first
   * handshake already refuses what it lists); enforcement, spreading and the
   * expiry checks run once libp2p has started.
   */
  services (libp2p: RevocationLibp2p, dataDir: string): { load: Service, enforce: Service } {
    const revocation = new Revocation({ libp2p, credentials: this.credentials, store: this.crls, ownSerials: this.ownSerials }, this.log)
    const expiry = new CertificateExpiry(libp2p, this.credentials, { ownNotAfter: this.ownNotAfter, caNotAfter: this.caNotAfter, checkMs: this.checkMs }, this.log)
    this.revocation = revocation
    const stop = async (): Promise<void> => {
      expiry.stop()
      await revocation.stop()
    }
    return {
      load: { name: 'revocation list', start: async () => { await this.crls.load(join(dataDir, CRL_FILE)) } },
      enforce: {
        name: 'revocation and expiry',
        start: async () => {
          await revocation.start()
          expiry.start()
        },
        stop,
        destroy: stop
      }
    }
  }

  /**
   * Whether the CRL held lists every certificate this node presents. With one of two revoked (its
   * outbound one valid) the members still take its connections and see it alive, and would go on
   * electing it for jobs it no longer ran: it stands down only once it is cut off for good.
   */
  ownRevoked (): boolean {
    return this.ownSerials.every(serial => this.crls.isRevoked(serial))
  }

  /** Bad CRLs received, for `gridd_rejected_messages_total`. */
  rejected (): RejectedCount[] {
    return this.revocation?.rejected() ?? []
  }
}
