import { trustEveryone } from '../trust-stub.ts'
import { it, expect, beforeEach, afterEach, vi } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { AgentService } from '../../../src/agent/agent-service.ts'
import { JsonStream, requestJson } from '../../../src/transport/json-stream.ts'
import { MAX_WORKER_MESSAGE_BYTES, SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema } from '../../../src/wire/spawn-protocol.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { FakeNetwork, FakeSpawner, startedModules, yamuxStreamPair } from '../owner/stubs.ts'
import type { FakePeer } from '../owner/stubs.ts'

const SOURCE = 'export default item => item\n'
const MB = 1024 * 1024

let dataDir: string
let requester: FakePeer
let agent: FakePeer
let spawner: FakeSpawner
let service: AgentService

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'gridd-unread-results-'))
  // real yamux between the two: a requester that pauses its stream stops granting the agent window
  const network = new FakeNetwork(yamuxStreamPair)
  requester = await network.peer()
  agent = await network.peer()
  // each result 1 MiB, whatever the item
  spawner = new FakeSpawner(4, async () => 'r'.repeat(MB))
  service = new AgentService(agent.libp2p, spawner.asSpawner(), await startedModules(dataDir), resolveLogger(), trustEveryone())
  await service.start()
})

afterEach(async () => {
  for (const worker of spawner.workers.values()) await worker.kill()
  await service.stop()
  await rm(dataDir, { recursive: true, force: true })
})

it('a requester that never reads its results cannot make the agent queue them without end: the stream is cut, the worker killed, counted', async () => {
  const request = { op: 'spawn', stage: 'echo', module: { path: '/requester/echo.mjs', sha256: sha256(SOURCE), source: SOURCE }, resources: { cpu: 1, memoryMb: 0 } }
  const reply = await requestJson(requester.libp2p, peerIdFromString(agent.id), SPAWN_PROTOCOL, request, spawnResponseSchema)
  if (!reply.ok || reply.worker == null) throw new Error('spawn failed')
  const stream = await requester.libp2p.dialProtocol(peerIdFromString(agent.id), WORKER_PROTOCOL)
  const json = new JsonStream(stream, { maxBytes: MAX_WORKER_MESSAGE_BYTES })
  // reads nothing: yamux grants the agent no more window than its first 256 KiB
  stream.pause()
  await json.write({ type: 'attach', id: reply.worker.id })
  // well within the in-flight bound, but 8 × 1 MiB of results each batch, none of them read
  let n = 0
  for (let batch = 0; batch < 40 && stream.status === 'open'; batch++) {
    await json.write({ type: 'batch', items: Array.from({ length: 8 }, () => ({ n: n++, item: n })) }).catch(() => {})
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  // 320 MiB of results were asked for: the agent cuts the stream long before it holds that much
  await vi.waitFor(() => { expect(stream.status).not.toBe('open') }, { timeout: 5000 })
  await vi.waitFor(() => { expect(spawner.get(reply.worker!.id)).toBeUndefined() })
  expect(service.rejected()).toEqual([{ protocol: WORKER_PROTOCOL, reason: 'protocol', count: 1 }])
})
