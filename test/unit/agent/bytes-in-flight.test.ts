import { it, expect, beforeEach, afterEach, vi } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { JsonStream, requestJson } from '../../../src/transport/json-stream.ts'
import { MAX_BYTES_IN_FLIGHT, MAX_WORKER_MESSAGE_BYTES, SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema, workerDownSchema } from '../../../src/wire/spawn-protocol.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { RemoteWorker } from '../../../src/owner/remote-worker.ts'
import type { WorkerInfo } from '../../../src/agent/local-worker.ts'
import { agentHarness } from './service-harness.ts'
import type { AgentHarness } from './service-harness.ts'

const SOURCE = 'export default item => item\n'
const MB = 1024 * 1024
/** An item of 1 MiB: 80 of them are over the bytes a stream may have in flight (64 MiB), far under its 4,096 items. */
const ITEM = 'x'.repeat(MB)
/** How long the stubbed workers take over an item; a test that wants them to hang never releases them. */
let answerAfter: Promise<void>
let release: () => void
/** Items the stubbed workers were given. */
let given = 0

let harness: AgentHarness

beforeEach(async () => {
  answerAfter = new Promise(resolve => { release = resolve })
  given = 0
  // each answer small: what is measured is the items' bytes
  harness = await agentHarness(async () => { given++; await answerAfter; return 'ok' })
})

afterEach(async () => {
  release()
  await harness.close()
})

async function spawnUnattached (): Promise<WorkerInfo> {
  const request = { op: 'spawn', stage: 'echo', module: { path: '/requester/echo.mjs', sha256: sha256(SOURCE), source: SOURCE }, resources: { cpu: 1, memoryMb: 0 } }
  const reply = await requestJson(harness.requester.libp2p, peerIdFromString(harness.agent.id), SPAWN_PROTOCOL, request, spawnResponseSchema)
  if (!reply.ok || reply.worker == null) throw new Error('spawn failed')
  return reply.worker
}

it(`a requester that sends more than ${MAX_BYTES_IN_FLIGHT / MB} MiB of items unanswered on a worker stream is cut there, its worker killed, counted: 4,096 items of up to 16 MiB each could be in flight`, async () => {
  const info = await spawnUnattached()
  const stream = await harness.requester.libp2p.dialProtocol(peerIdFromString(harness.agent.id), WORKER_PROTOCOL)
  const json = new JsonStream(stream, { maxBytes: MAX_WORKER_MESSAGE_BYTES })
  await json.write({ type: 'attach', id: info.id })
  let n = 0
  try {
    // ten messages of 8 MiB (8 items each), none answered
    for (let batch = 0; batch < 10; batch++) await json.write({ type: 'batch', items: Array.from({ length: 8 }, () => ({ n: n++, item: ITEM })) })
  } catch {
    // the agent may reset the stream while a batch is still being written: that is its answer
  }
  const closed = await (async () => {
    const signal = AbortSignal.timeout(5000)
    try {
      while (true) await json.read(workerDownSchema, { signal })
    } catch {
      return !signal.aborted
    }
  })()
  expect(closed).toBe(true)
  await vi.waitFor(() => { expect(harness.spawner.get(info.id)).toBeUndefined() })
  expect(harness.service.rejected()).toEqual([{ protocol: WORKER_PROTOCOL, reason: 'protocol', count: 1 }])
})

it(`an honest requester with more than ${MAX_BYTES_IN_FLIGHT / MB} MiB of items at once holds the rest back until results free room: all answered, stream kept`, async () => {
  const info = await spawnUnattached()
  const remote = await RemoteWorker.attach(harness.requester.libp2p, peerIdFromString(harness.agent.id), info)
  const outcomes = Array.from({ length: 80 }, async () => await remote.process(ITEM).catch((err: Error) => err.name))
  // the first items (the messages that fit in 64 MiB) reach the worker and wait there, the rest are held back
  await vi.waitFor(() => { expect(given).toBeGreaterThanOrEqual(48) }, { timeout: 5000 })
  await new Promise(resolve => setTimeout(resolve, 300))
  expect(given).toBeLessThan(80)
  release()
  expect(await Promise.all(outcomes)).toEqual(Array(80).fill('ok'))
  expect(harness.service.rejected()).toEqual([])
  expect(harness.spawner.get(info.id)?.alive).toBe(true)
  await remote.kill()
})
