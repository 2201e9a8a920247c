import { it, expect } from 'vitest'
import { pino } from 'pino'
import * as v from 'valibot'
import type { Connection, PeerId, Stream, StreamHandler } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { yamuxStreamPair } from '../owner/stubs.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { controlHandler } from '../../../src/control/control.ts'
import { statusHandler } from '../../../src/control/status.ts'
import { deploymentsHandler } from '../../../src/deployments/protocol.ts'
import type { Deployments } from '../../../src/deployments/service.ts'
import { trustEveryone } from '../trust-stub.ts'
import { entry } from '../membership/helpers.ts'

const log = pino({ level: 'silent' })
const MB = 1024 * 1024

/** How `stream` ended ('reset' if the far side reset it), or 'open' if it had not within `ms`. */
async function endingWithin (stream: Stream, ms: number): Promise<string> {
  return await Promise.race([ending(stream), new Promise<string>(resolve => setTimeout(() => { resolve('open') }, ms))])
}

/** How `stream` ended: 'reset' if the far side reset it, else 'closed'. */
async function ending (stream: Stream): Promise<string> {
  if (stream.status !== 'open') return stream.status
  return await new Promise(resolve => { stream.addEventListener('close', evt => { resolve(evt.error == null ? 'closed' : 'reset') }, { once: true }) })
}

/** The handlers under test, each with a request it answers at once. */
function handlers (rejections: Rejections): Array<[StreamHandler, unknown]> {
  return [
    [controlHandler({ setWeight: () => {}, setStrategy: () => {}, placement: () => ({ weight: 1, strategy: 'horizontal' }) }, log, rejections), { op: 'set-weight', weight: 2 }],
    [statusHandler(() => ({ self: { ...entry('S'), lastSeenMs: 0 }, members: [] }), rejections), {}],
    [deploymentsHandler(() => ({ list: () => [] }) as unknown as Deployments, trustEveryone(), rejections), { op: 'list' }]
  ]
}

/** A real yamux stream to `handler` with `request` sent on it and its answer read: the client's end. */
async function answered (handler: StreamHandler, request: unknown, peer: PeerId): Promise<Stream> {
  const [outbound, inbound] = await yamuxStreamPair()
  void handler(inbound, { remotePeer: peer } as unknown as Connection)
  const json = new JsonStream(outbound)
  await json.write(request)
  expect(await json.read(v.object({ ok: v.optional(v.boolean()) }), { signal: AbortSignal.timeout(5000) })).toBeDefined()
  return outbound
}

it('what a peer sends after its control, status or deployments request is dropped as it comes: not buffered until the stream\'s 4 MiB read buffer overflowed and reset it', async () => {
  const rejections = new Rejections(log)
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const outcomes: string[] = []
  for (const [handler, request] of handlers(rejections)) {
    const outbound = await answered(handler, request, peer)
    // 6 MiB more on the stream the answer came on, then this side's end
    const chunk = new Uint8Array(MB).fill(0x20)
    for (let i = 0; i < 6 && outbound.status === 'open'; i++) {
      if (!outbound.send(chunk)) await new Promise(resolve => { outbound.addEventListener('drain', resolve, { once: true }); outbound.addEventListener('close', resolve, { once: true }) })
    }
    await new Promise(resolve => setTimeout(resolve, 200))
    const ended = ending(outbound)
    await outbound.close().catch(() => {})
    outcomes.push(await Promise.race([ended, new Promise<string>(resolve => setTimeout(() => { resolve('open') }, 2000))]))
    outbound.abort(new Error('test over'))
  }
  expect(outcomes).toEqual(['closed', 'closed', 'closed'])
})

it('a peer that never closes its end of a control, status or deployments stream after the answer has it reset: it kept the stream, and its slot among the protocol\'s streams, until the connection closed', async () => {
  const rejections = new Rejections(log)
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const streams: Stream[] = []
  for (const [handler, request] of handlers(rejections)) {
    streams.push(await answered(handler, request, peer))
  }
  try {
    // the node waits 10 s for the peer's close
    expect(await Promise.all(streams.map(async stream => await endingWithin(stream, 13_000)))).toEqual(['reset', 'reset', 'reset'])
  } finally {
    for (const stream of streams) stream.abort(new Error('test over'))
  }
}, 20_000)
