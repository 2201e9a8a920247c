import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { Ping } from '@libp2p/ping'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import type { RPC } from '@libp2p/gossipsub/message'
import { mutualTls } from './mtls/encrypter.ts'
import type { TlsMaterial } from './mtls/material.ts'
import { privateKeyFromPem } from './identity.ts'
import { InboundAudit } from './inbound-audit.ts'
import { listenAddress } from './address.ts'
import { sendWindowUpdatesAtHalf } from './yamux-window.ts'
import type { Logger } from '../logger.ts'
import { PeerCredentials } from '../trust/credentials.ts'
import type { RefusedConnections } from './refused-connections.ts'

// a type alias (not an interface) so it satisfies libp2p's ServiceMap index signature
export type GridServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
}

export type GridLibp2p = Libp2p<GridServices>
export type ClientLibp2p = Libp2p

export interface TransportInit {
  host: string
  port: number
  /** Addresses announced instead of the listen ones (multiaddrs without /p2p). */
  announce?: string[]
  tls: TlsMaterial
  log: Logger
  /** libp2p's connection monitor, every this many ms; off when undefined (membership decides liveness). */
  pingIntervalMs?: number
  /** Start (listen) at once. Default true; a GridNode starts it as the first of its services. */
  start?: boolean
  /** Filled by the handshake with every peer's verified roles; gossip from non-members is graylisted. */
  credentials?: PeerCredentials
  /** Serials refused at the handshake (the newest CRL). */
  isRevoked?: (serial: string) => boolean
  /** Counts the connections refused at the handshake (`gridd_refused_connections_total`). */
  refused?: RefusedConnections
}

/** Messages at least this large get IDONTWANTs to the mesh (gossipsub's default is 512 B). */
const IDONTWANT_MIN_BYTES = 16 * 1024

/** gossipsub's duplicate check before validation: author and sequence number, as bytes in a string (the author's length first, so no two pairs read alike). */
function duplicateKey (message: RPC.Message): string {
  return `${message.from?.byteLength ?? 0}:${latin1(message.from)}${latin1(message.seqno)}`
}

function latin1 (bytes: Uint8Array | undefined): string {
  return bytes == null ? '' : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** Below gossipsub's graylist threshold (-80): every RPC from such a peer is ignored, none is sent to it. */
const NON_MEMBER_SCORE = -1000

/** Open connections one peer id may hold to this node (libp2p has no such cap of its own); CLI commands sharing one client certificate each hold one while they run. */
export const MAX_CONNECTIONS_PER_PEER = 8

/** The libp2p node of a grid member: TCP, CA-rooted mTLS, yamux, identify, ping, gossipsub. */
export async function createGridLibp2p (init: TransportInit): Promise<GridLibp2p> {
  sendWindowUpdatesAtHalf()
  const audit = new InboundAudit(init.log, init.refused)
  const credentials = init.credentials ?? new PeerCredentials(init.log)
  const auditGater = audit.gater()
  // bound late: the gater is part of the node it asks about
  let self: GridLibp2p | undefined
  const node = await createLibp2p({
    start: init.start ?? true,
    privateKey: await privateKeyFromPem(init.tls.key),
    addresses: { listen: [listenAddress(init.host, init.port)], ...(init.announce != null && init.announce.length > 0 ? { announce: init.announce } : {}) },
    transports: [tcp()],
    connectionEncrypters: [mutualTls({
      material: init.tls,
      log: init.log,
      onNegotiated: c => { audit.negotiated(c) },
      onVerified: (peer, credential, connection) => { credentials.record(peer, credential, connection) },
      isRevoked: init.isRevoked,
      refused: init.refused
    })],
    streamMuxers: [yamux()],
    connectionGater: {
      ...auditGater,
      // per-connection stream limits (each protocol's maxInboundStreams) are per-peer limits only if a
      // peer cannot open connections without end: beyond a few to the same peer, more are refused
      denyInboundEncryptedConnection: async (peer, maConn) => {
        if (await auditGater.denyInboundEncryptedConnection?.(peer, maConn) === true) return true
        return (self?.getConnections(peer).length ?? 0) >= MAX_CONNECTIONS_PER_PEER
      },
      // grid members live on private networks and loopback: allow dialling them
      denyDialMultiaddr: () => false
    },
    connectionManager: {
      maxConnections: 1000,
      // a join burst (many nodes dialling one seed) must not be rate-limited away
      inboundConnectionThreshold: 1000,
      maxIncomingPendingConnections: 256,
      dialTimeout: 5000,
      // bounds how long a silent or garbage-speaking socket may hold an inbound slot
      inboundUpgradeTimeout: 5000
    },
    connectionMonitor: {
      enabled: init.pingIntervalMs != null,
      pingInterval: init.pingIntervalMs,
      // membership decides liveness; a ping lost under load must not drop a healthy connection
      abortConnectionOnPingFailure: false
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // membership heartbeats must go out even before the mesh has formed
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // a trusted mTLS grid needs no flood publishing and a smaller mesh than
        // gossipsub's adversarial defaults (D=6): each heartbeat then crosses TLS
        // far fewer times, which took a 30-node grid from ~75 s to converge to ~20 s
        floodPublish: false,
        D: 4,
        Dlo: 3,
        Dhi: 6,
        Dout: 2,
        // lazy repair (IHAVE) to 2 peers outside the mesh a heartbeat, however many there are: the default
        // (6 peers, or a quarter of them, whichever is more) grows with the grid, and was a third of an
        // idle node's CPU at 20 members; eager push over the mesh carries the news, IHAVE only repairs
        Dlazy: 2,
        gossipFactor: 0,
        // a duplicate is known by its author and sequence number (the message id StrictSign uses anyway)
        // before its signature is checked: each message arrives from up to D mesh peers, and every copy
        // was verified (a key object built, an Ed25519 check) only to be dropped as seen. A forged copy
        // cannot claim a place: the id is remembered only once a message passed validation
        fastMsgIdFn: duplicateKey,
        // IDONTWANT to every mesh peer for each message ≥ 512 B (gossipsub 1.2's default) was a third
        // of an idle node's gossip sends: heartbeats are ~600 B, and on a LAN the copy it would spare
        // has usually been sent already. Only large messages (big channel values) are worth one
        idontwantMinDataSize: IDONTWANT_MIN_BYTES,
        scoreParams: {
          // gridd connections are already authenticated by mTLS; every member may share one host or LAN
          IPColocationFactorWeight: 0,
          // only certificates with the member role take part in gossip (DESIGN §11): a client or
          // agent-only peer is graylisted, so nothing it sends is processed and nothing is sent to it
          appSpecificScore: (peer: string) => credentials.has(peer, 'member') ? 0 : NON_MEMBER_SCORE,
          appSpecificWeight: 1
        }
      })
    }
  })
  self = node
  return node
}

/**
 * A dial-only libp2p node for CLI commands: no listener, no gossip, and no
 * identify. A CLI run may hold a running node's key (`grid channel set` uses
 * the `node` certificate); its identify answer (no gossipsub, no addresses)
 * would overwrite what the node it dials knows of that peer, and the node's
 * gossipsub would drop the real peer's streams: members flapped to failed.
 */
export async function createClientLibp2p (tls: TlsMaterial, log: Logger): Promise<ClientLibp2p> {
  sendWindowUpdatesAtHalf()
  return await createLibp2p({
    privateKey: await privateKeyFromPem(tls.key),
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [mutualTls({ material: tls, log })],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
}
