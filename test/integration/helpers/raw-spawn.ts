import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createGridLibp2p } from '../../../src/transport/libp2p.ts'
import type { GridLibp2p } from '../../../src/transport/libp2p.ts'
import { loadCerts } from '../../../src/transport/mtls/material.ts'
import { JsonStream, requestJson } from '../../../src/transport/json-stream.ts'
import { SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema, workerDownSchema } from '../../../src/wire/spawn-protocol.ts'
import type { SpawnResponseMessage, WorkerDown } from '../../../src/wire/spawn-protocol.ts'
import type { GridProcess } from './grid-process.ts'
import type { GridFixture } from './grid-fixture.ts'

/** A requester that speaks the spawn protocol by hand (a member's certificate, no GridNode): what any member could send. */
export class RawRequester {
  readonly libp2p: GridLibp2p

  private constructor (libp2p: GridLibp2p) {
    this.libp2p = libp2p
  }

  /** Connected to `agent` with `grid`'s certificate `name`; stopped when the grid closes. */
  static async connect (grid: GridFixture, name: string, agent: GridProcess): Promise<RawRequester> {
    const libp2p = await createGridLibp2p({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, name), log: pino({ level: 'silent' }) })
    grid.onClose(async () => { await libp2p.stop() })
    await libp2p.dial(multiaddr(`/ip4/127.0.0.1/tcp/${agent.port}`))
    return new RawRequester(libp2p)
  }

  async spawn (agent: GridProcess, module: { path: string, sha256: string, source?: string }, resources = { cpu: 1, memoryMb: 0 }): Promise<SpawnResponseMessage> {
    const request = { op: 'spawn', stage: 'raw', module, resources }
    return await requestJson(this.libp2p, peerIdFromString(agent.peerId), SPAWN_PROTOCOL, request, spawnResponseSchema, { maxBytes: 8 * 1024 * 1024, signal: AbortSignal.timeout(15_000) })
  }

  /** Attaches to worker `id` on `agent` and returns the first message the agent sends back. */
  async attach (agent: GridProcess, id: string): Promise<WorkerDown> {
    const signal = AbortSignal.timeout(15_000)
    const stream = await this.libp2p.dialProtocol(peerIdFromString(agent.peerId), WORKER_PROTOCOL, { signal })
    const json = new JsonStream(stream, { maxBytes: 1024 * 1024 })
    await json.write({ type: 'attach', id }, { signal })
    const first = await json.read(workerDownSchema, { signal })
    stream.abort(new Error('done'))
    return first
  }
}
