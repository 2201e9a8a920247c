import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createClientLibp2p, createGridLibp2p } from '../../../src/transport/libp2p.ts'
import type { ClientLibp2p, GridLibp2p } from '../../../src/transport/libp2p.ts'
import { MEMBERS_TOPIC } from '../../../src/membership/constants.ts'
import type { Heartbeat, MemberEntry } from '../../../src/membership/schema.ts'
import { topicOf } from '../../../src/channels/schema.ts'
import { entrySigner } from '../../../src/channels/signature.ts'
import type { Entry } from '../../../src/channels/store.ts'
import { loadCerts } from '../../../src/transport/mtls/material.ts'
import { JsonStream, requestJson } from '../../../src/transport/json-stream.ts'
import { SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema, workerDownSchema } from '../../../src/wire/spawn-protocol.ts'
import type { SpawnRequestMessage, SpawnResponseMessage, WorkerDown } from '../../../src/wire/spawn-protocol.ts'
import type { GridProcess } from './grid-process.ts'

/** `node`'s full address, peer id included (the way an owner dials an agent it knows from membership). */
export function addressOf (node: GridProcess): Multiaddr {
  return multiaddr(`/ip4/127.0.0.1/tcp/${node.port}/p2p/${node.peerId}`)
}

/**
 * A peer that speaks the agent's protocols by hand with certificate `name` of
 * `dir` (a dial-only libp2p node, as the CLI makes): what a script holding that
 * certificate could send, with nothing of our owner code in between.
 */
export class RawPeer {
  readonly libp2p: ClientLibp2p

  private constructor (libp2p: ClientLibp2p) {
    this.libp2p = libp2p
  }

  static async start (dir: string, name: string): Promise<RawPeer> {
    return new RawPeer(await createClientLibp2p(await loadCerts(dir, name), pino({ level: 'silent' })))
  }

  get peerId (): string {
    return this.libp2p.peerId.toString()
  }

  /** One spawn-protocol request (spawn, kill or list) to `agent`; a refusal rejects with ForbiddenError. */
  async spawnProtocol (agent: GridProcess, request: SpawnRequestMessage): Promise<SpawnResponseMessage> {
    return await requestJson(this.libp2p, addressOf(agent), SPAWN_PROTOCOL, request, spawnResponseSchema, { signal: AbortSignal.timeout(10_000) })
  }

  /** Opens a worker stream to `agent` and attaches to worker `id`: the agent's first answer. */
  async attach (agent: GridProcess, id: string): Promise<WorkerDown> {
    const stream = await this.libp2p.dialProtocol(addressOf(agent), WORKER_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const json = new JsonStream(stream)
    try {
      await json.write({ type: 'attach', id })
      return await json.read(workerDownSchema, { signal: AbortSignal.timeout(10_000) })
    } finally {
      await json.close()
    }
  }

  async stop (): Promise<void> {
    await this.libp2p.stop()
  }
}

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
