import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createGridLibp2p } from '../../../src/transport/libp2p.ts'
import type { GridLibp2p } from '../../../src/transport/libp2p.ts'
import { loadCerts } from '../../../src/transport/mtls/material.ts'
import { SPAWN_PROTOCOL } from '../../../src/wire/spawn-protocol.ts'
import { MEMBERS_TOPIC } from '../../../src/membership/constants.ts'
import type { Heartbeat, MemberEntry } from '../../../src/membership/schema.ts'
import { topicOf } from '../../../src/channels/schema.ts'
import { entrySigner } from '../../../src/channels/signature.ts'
import type { Entry } from '../../../src/channels/store.ts'
import type { GridProcess } from './grid-process.ts'

/**
 * A full grid peer (gossipsub included) with certificate `name` that says what
 * it likes about itself: every 200 ms it publishes a well-formed heartbeat
 * claiming `claim` (e.g. the agent role with the largest capacity and weight
 * there is). It counts spawn requests anyone sends it, which is what a peer
 * that wins placement would get.
 */
export class BoastingPeer {
  readonly libp2p: GridLibp2p
  spawnRequests = 0
  private timer?: NodeJS.Timeout
  private readonly sign: ReturnType<typeof entrySigner>

  private constructor (libp2p: GridLibp2p, keyPem: string) {
    this.libp2p = libp2p
    this.sign = entrySigner(keyPem)
  }

  static async start (dir: string, name: string, claim: Partial<MemberEntry>, nodes: GridProcess[]): Promise<BoastingPeer> {
    const tls = await loadCerts(dir, name)
    const libp2p = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls, log: pino({ level: 'silent' }) })
    const peer = new BoastingPeer(libp2p, tls.key)
    try {
      await libp2p.handle(SPAWN_PROTOCOL, stream => { peer.spawnRequests++; stream.abort(new Error('not an agent')) })
      libp2p.services.pubsub.subscribe(MEMBERS_TOPIC)
      for (const node of nodes) await libp2p.dial(multiaddr(`/ip4/127.0.0.1/tcp/${node.port}`))
      const id = libp2p.peerId.toString()
      const incarnation = Date.now()
      let seq = 0
      const beat = (): void => {
        const member: MemberEntry = {
          id,
          addresses: libp2p.getMultiaddrs().map(String),
          state: 'alive',
          incarnation,
          role: 'member',
          capacity: { cpu: 1, memoryMb: 1024 },
          load: { cpu: 0, memoryFreeMb: 1024, workers: 0, maxWorkers: 0, slotsUsed: 0, memoryUsedMb: 0, stages: {} },
          weight: 1,
          strategy: 'horizontal',
          ...claim
        }
        const heartbeat: Heartbeat = { v: 1, seq: seq++, member, suspects: [], hears: [] }
        libp2p.services.pubsub.publish(MEMBERS_TOPIC, new TextEncoder().encode(JSON.stringify(heartbeat))).catch(() => {})
      }
      peer.timer = setInterval(beat, 200)
      beat()
      return peer
    } catch (err) {
      await peer.stop()
      throw err
    }
  }

  get peerId (): string {
    return this.libp2p.peerId.toString()
  }

  /** Gossips one write of its own (signed, well-formed) to `channel`, as a member's node does. */
  async write (channel: string, key: string, value: unknown): Promise<void> {
    const topic = topicOf(channel)
    if (!this.libp2p.services.pubsub.getTopics().includes(topic)) this.libp2p.services.pubsub.subscribe(topic)
    const entry: Entry = { key, value, deleted: false, t: Date.now(), c: 0, origin: this.peerId }
    const message = { v: 1, channel, entries: [{ ...entry, sig: this.sign(channel, entry) }] }
    await this.libp2p.services.pubsub.publish(topic, new TextEncoder().encode(JSON.stringify(message))).catch(() => {})
  }

  /** Whether it holds an open connection to `node` (so what it sends could reach it). */
  connectedTo (node: GridProcess): boolean {
    return this.libp2p.getConnections(peerIdFromString(node.peerId)).some(c => c.status === 'open')
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    await this.libp2p.stop()
  }
}
