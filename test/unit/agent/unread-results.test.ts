import { it, expect, beforeEach, afterEach, vi } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { JsonStream, requestJson } from '../../../src/transport/json-stream.ts'
import { MAX_WORKER_MESSAGE_BYTES, SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema } from '../../../src/wire/spawn-protocol.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { yamuxStreamPair } from '../owner/stubs.ts'
import type { FakePeer, FakeSpawner } from '../owner/stubs.ts'
import { agentHarness } from './service-harness.ts'
import type { AgentHarness } from './service-harness.ts'

const SOURCE = 'export default item => item\n'
const MB = 1024 * 1024

let requester: FakePeer
let agent: FakePeer
let spawner: FakeSpawner
let harness: AgentHarness

beforeEach(async () => {
  // real yamux between the two: a requester that pauses its stream stops granting the agent window;
  // each result 1 MiB, whatever the item
  harness = await agentHarness(async () => 'r'.repeat(MB), { pair: yamuxStreamPair })
  ;({ requester, agent, spawner } = harness)
})

afterEach(async () => { await harness.close() })

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
  expect(harness.service.rejected()).toEqual([{ protocol: WORKER_PROTOCOL, reason: 'protocol', count: 1 }])
})
