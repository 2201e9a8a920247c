import { it, expect, beforeEach, afterEach, vi } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import { encode } from 'uint8-varint'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { MAX_WORKER_MESSAGE_BYTES, SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema, workerDownSchema } from '../../../src/wire/spawn-protocol.ts'
import { MAX_MODULE_BYTES } from '../../../src/wire/module-ref.ts'
import { yamuxStreamPair } from '../owner/stubs.ts'
import type { FakePeer } from '../owner/stubs.ts'
import { agentHarness } from './service-harness.ts'
import type { AgentHarness } from './service-harness.ts'

const MB = 1024 * 1024

let requester: FakePeer
let agent: FakePeer
let harness: AgentHarness

beforeEach(async () => {
  harness = await agentHarness(async item => item, { pair: yamuxStreamPair })
  ;({ requester, agent } = harness)
})

afterEach(async () => { await harness.close() })

/** How `stream` ended ('reset' if the far side reset it), or 'open' if it had not within `ms`. */
async function ending (stream: Stream, ms: number): Promise<string> {
  if (stream.status !== 'open') return stream.status === 'reset' || stream.status === 'aborted' ? 'reset' : 'closed'
  return await new Promise(resolve => {
    const timer = setTimeout(() => { resolve('open') }, ms)
    stream.addEventListener('close', evt => { clearTimeout(timer); resolve(evt.error == null ? 'closed' : 'reset') }, { once: true })
  })
}

it('a worker stream\'s first message announced at 16 MiB (the limit of a batch) is refused from its length, counted, instead of buffered until the 10 s deadline', async () => {
  const stream = await requester.libp2p.dialProtocol(peerIdFromString(agent.id), WORKER_PROTOCOL)
  stream.send(encode(MAX_WORKER_MESSAGE_BYTES - 1))
  stream.send(new Uint8Array(256 * 1024).fill(0x20))
  expect(await ending(stream, 5000)).toBe('reset')
  await vi.waitFor(() => { expect(harness.service.rejected()).toEqual([{ protocol: WORKER_PROTOCOL, reason: 'protocol', count: 1 }]) })
})

it('what a peer sends after attaching to no worker is dropped as it comes: the stream was left readable, buffering up to 32 MiB of it for as long as the peer kept it open', async () => {
  const stream = await requester.libp2p.dialProtocol(peerIdFromString(agent.id), WORKER_PROTOCOL)
  const json = new JsonStream(stream, { maxBytes: MAX_WORKER_MESSAGE_BYTES })
  await json.write({ type: 'attach', id: 'w-000000000000' })
  expect(await json.read(workerDownSchema)).toMatchObject({ type: 'exit' })
  const chunk = new Uint8Array(MB).fill(0x20)
  for (let i = 0; i < 40 && stream.status === 'open'; i++) {
    if (!stream.send(chunk)) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }); stream.addEventListener('close', resolve, { once: true }) })
  }
  await new Promise(resolve => setTimeout(resolve, 200))
  const ended = ending(stream, 2000)
  await stream.close().catch(() => {})
  expect(await ended).toBe('closed')
})

it('a member that starts the largest spawn request on every stream it opens is refused (ERR_RATE_LIMITED, counted) past sixteen of them, instead of having each read at once until the 10 s deadline', async () => {
  const started: JsonStream[] = []
  for (let i = 0; i < 20; i++) {
    const stream = await requester.libp2p.dialProtocol(peerIdFromString(agent.id), SPAWN_PROTOCOL)
    stream.send(encode(MAX_MODULE_BYTES + 64 * 1024))
    stream.send(new Uint8Array(64 * 1024).fill(0x20))
    started.push(new JsonStream(stream))
  }
  const refused = await Promise.all(started.slice(16).map(async json => await json.read(spawnResponseSchema, { signal: AbortSignal.timeout(5000) }).catch(() => 'none')))
  expect(refused).toEqual(Array(4).fill(expect.objectContaining({ ok: false, code: 'ERR_RATE_LIMITED' })))
  expect(harness.service.rejected()).toEqual([{ protocol: SPAWN_PROTOCOL, reason: 'rate-limited', count: 4 }])
  for (const json of started) json.stream.abort(new Error('test over'))
})

it('a worker stream silent past the attach deadline is reset, not left with its reader buffering what comes later (up to 32 MiB, for as long as the peer kept it open)', async () => {
  const stream = await requester.libp2p.dialProtocol(peerIdFromString(agent.id), WORKER_PROTOCOL)
  // the attach read's deadline is 10 s: by 12 s the agent has given the stream up
  expect(await ending(stream, 12_000)).toBe('reset')
}, 20_000)
