import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import type { Message } from '@libp2p/gossipsub'
import { createGridLibp2p } from '../../../src/transport/libp2p.ts'
import type { GridLibp2p } from '../../../src/transport/libp2p.ts'
import { loadCerts } from '../../../src/transport/mtls/material.ts'
import { MAX_SYNC_BYTES, MEMBERS_TOPIC, SYNC_PROTOCOL } from '../../../src/membership/constants.ts'
import { syncMessageSchema } from '../../../src/membership/schema.ts'
import { requestJson } from '../../../src/transport/json-stream.ts'
import type { GridProcess } from './grid-process.ts'
import { eventually } from './grid-process.ts'

/** One heartbeat as it crossed the wire: who signed it, its payload size, and its entry's suspects and hears. */
export interface SeenHeartbeat {
  from: string
  bytes: number
  at: number
  suspects: number
  hears: number
}

/**
 * A peer with a valid grid certificate that only listens: it subscribes to the
 * membership topic and records every heartbeat's payload size, and it can ask
 * a node for its member table the way a joiner does (push-pull sync with an
 * empty table of its own). It never publishes, so it never becomes a member.
 */
export class GossipObserver {
  readonly heartbeats: SeenHeartbeat[] = []
  readonly libp2p: GridLibp2p

  private constructor (libp2p: GridLibp2p) {
    this.libp2p = libp2p
  }

  static async start (certsDir: string, certName: string, nodes: GridProcess[]): Promise<GossipObserver> {
    const libp2p = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(certsDir, certName), log: pino({ level: 'silent' }) })
    const observer = new GossipObserver(libp2p)
    libp2p.services.pubsub.addEventListener('message', (evt: CustomEvent<Message>) => {
      const message = evt.detail
      if (message.topic !== MEMBERS_TOPIC || message.type !== 'signed') return
      const body = JSON.parse(new TextDecoder().decode(message.data)) as { suspects: unknown[], hears: unknown[] }
      observer.heartbeats.push({ from: message.from.toString(), bytes: message.data.byteLength, at: Date.now(), suspects: body.suspects.length, hears: body.hears.length })
    })
    libp2p.services.pubsub.subscribe(MEMBERS_TOPIC)
    try {
      await observer.connect(nodes)
    } catch (err) {
      await libp2p.stop()
      throw err
    }
    return observer
  }

  /** Dials `nodes` and waits until each is subscribed to the membership topic from our side. */
  async connect (nodes: GridProcess[]): Promise<void> {
    for (const node of nodes) await this.libp2p.dial(multiaddr(`/ip4/127.0.0.1/tcp/${node.port}`))
    await eventually(() => nodes.every(n => this.libp2p.services.pubsub.getSubscribers(MEMBERS_TOPIC).some(p => p.toString() === n.peerId)) ? true : undefined)
  }

  /** The largest heartbeat `from` sent since `sinceMs`. */
  largest (from: string, sinceMs: number): SeenHeartbeat | undefined {
    return this.heartbeats.filter(h => h.from === from && h.at >= sinceMs).sort((a, b) => b.bytes - a.bytes)[0]
  }

  /** Asks `node` for its member table (push-pull sync): the reply's size in bytes and how many members it lists. */
  async syncTable (node: GridProcess): Promise<{ bytes: number, members: Array<{ id: string, state: string }> }> {
    const reply = await requestJson(this.libp2p, multiaddr(`/ip4/127.0.0.1/tcp/${node.port}/p2p/${node.peerId}`), SYNC_PROTOCOL, { v: 1, members: [] }, syncMessageSchema, { maxBytes: MAX_SYNC_BYTES, signal: AbortSignal.timeout(5000) })
    return { bytes: new TextEncoder().encode(JSON.stringify(reply)).byteLength, members: reply.members }
  }

  async stop (): Promise<void> {
    await this.libp2p.stop()
  }
}
