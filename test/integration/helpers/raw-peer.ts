import { expect } from 'vitest'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createClientLibp2p } from '../../../src/transport/libp2p.ts'
import type { ClientLibp2p } from '../../../src/transport/libp2p.ts'
import { loadCerts } from '../../../src/transport/mtls/material.ts'
import { JsonStream, requestJson } from '../../../src/transport/json-stream.ts'
import { SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema, workerDownSchema } from '../../../src/wire/spawn-protocol.ts'
import type { SpawnRequestMessage, SpawnResponseMessage, WorkerDown } from '../../../src/wire/spawn-protocol.ts'
import { ERR_FORBIDDEN, ForbiddenError } from '../../../src/errors.ts'
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

/** Expects `promise` to be refused by a node with ERR_FORBIDDEN (a ForbiddenError read from the refusal frame), its message matching `text`. */
export async function expectForbidden (promise: Promise<unknown>, text: RegExp = /may not use/): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(ForbiddenError)
  await expect(promise).rejects.toMatchObject({ code: ERR_FORBIDDEN, message: expect.stringMatching(text) })
}
