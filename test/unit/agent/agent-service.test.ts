import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { AgentService } from '../../../src/agent/agent-service.ts'
import { requestJson } from '../../../src/transport/json-stream.ts'
import { SPAWN_PROTOCOL, spawnResponseSchema } from '../../../src/wire/spawn-protocol.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { RemoteWorker } from '../../../src/owner/remote-worker.ts'
import type { WorkerInfo } from '../../../src/agent/local-worker.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { FakeNetwork, FakeSpawner } from '../owner/stubs.ts'
import type { FakePeer } from '../owner/stubs.ts'

const log = resolveLogger()
const SOURCE = 'export default item => item\n'
const ATTACH_TIMEOUT_MS = 200

/** The agent's service (real) on a stubbed spawner and an in-memory libp2p; the requester speaks the wire by hand. */
describe('AgentService: bounds on what a requester may leave or push (stubbed components)', () => {
  let dataDir: string
  let requester: FakePeer
  let agent: FakePeer
  let spawner: FakeSpawner
  let service: AgentService

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gridd-agent-service-'))
    const network = new FakeNetwork()
    requester = await network.peer()
    agent = await network.peer()
    spawner = new FakeSpawner(4)
    service = new AgentService(agent.libp2p, spawner.asSpawner(), dataDir, log, { attachTimeoutMs: ATTACH_TIMEOUT_MS })
    await service.start()
  })

  afterEach(async () => {
    for (const worker of spawner.workers.values()) await worker.kill()
    await service.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  async function spawnUnattached (): Promise<WorkerInfo> {
    const request = { op: 'spawn', stage: 'echo', module: { path: '/requester/echo.mjs', sha256: sha256(SOURCE), source: SOURCE }, resources: { cpu: 1, memoryMb: 0 } }
    const reply = await requestJson(requester.libp2p, peerIdFromString(agent.id), SPAWN_PROTOCOL, request, spawnResponseSchema)
    if (!reply.ok || reply.worker == null) throw new Error('spawn failed')
    return reply.worker
  }

  it('kills a worker whose requester never attaches, once attachTimeoutMs has passed', async () => {
    const info = await spawnUnattached()
    const worker = spawner.get(info.id)!
    expect(worker.alive).toBe(true)
    const exit = await worker.exited
    expect(exit.signal).toBe('SIGKILL')
  })

  it('keeps a worker whose requester attached in time', async () => {
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    expect(await remote.process({ n: 1 })).toEqual({ n: 1 })
    // "was not killed": five times the deadline is ample for a timer that should not fire at all
    await new Promise(resolve => setTimeout(resolve, 5 * ATTACH_TIMEOUT_MS))
    expect(spawner.get(info.id)?.alive).toBe(true)
    await remote.kill()
  })
})
