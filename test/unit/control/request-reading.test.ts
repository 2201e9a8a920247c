import { it, expect } from 'vitest'
import { pino } from 'pino'
import * as v from 'valibot'
import type { Connection, StreamHandler } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encode } from 'uint8-varint'
import { yamuxStreamPair } from '../owner/stubs.ts'
import { JsonStream, MAX_MESSAGE_BYTES } from '../../../src/transport/json-stream.ts'
import { Rejections } from '../../../src/transport/rejections.ts'
import { channelClientHandler } from '../../../src/channels/client-protocol.ts'
import { CLIENT_PROTOCOL } from '../../../src/channels/schema.ts'
import type { Channel } from '../../../src/channels/channel.ts'
import { DEPLOYMENTS_PROTOCOL, deploymentsHandler } from '../../../src/deployments/protocol.ts'
import type { Deployments } from '../../../src/deployments/service.ts'
import { trustEveryone } from '../trust-stub.ts'

const log = pino({ level: 'silent' })

it.each([
  [CLIENT_PROTOCOL, (rejections: Rejections) => channelClientHandler({ read: () => ({}) as unknown as Channel, write: () => ({}) as unknown as Channel }, trustEveryone(), rejections)],
  [DEPLOYMENTS_PROTOCOL, (rejections: Rejections) => deploymentsHandler(() => ({}) as unknown as Deployments, trustEveryone(), rejections)]
])('%s: a client that starts the largest request on every stream it may open is refused (ERR_RATE_LIMITED, counted) past eight of them, instead of having each read at once', async (protocol: string, make: (rejections: Rejections) => StreamHandler) => {
  const rejections = new Rejections(log)
  const handler = make(rejections)
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const started: JsonStream[] = []
  try {
    for (let i = 0; i < 12; i++) {
      const [outbound, inbound] = await yamuxStreamPair()
      void handler(inbound, { remotePeer: peer } as unknown as Connection)
      outbound.send(encode(MAX_MESSAGE_BYTES))
      outbound.send(new Uint8Array(64 * 1024).fill(0x20))
      started.push(new JsonStream(outbound))
    }
    // the read deadlines are 5 and 10 s: these answers come at once, or not in this test
    const refused = await Promise.all(started.slice(8).map(async json => await json.read(v.unknown(), { signal: AbortSignal.timeout(4000) }).catch(() => 'none')))
    expect(refused).toEqual(Array(4).fill({ ok: false, error: expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryable: true }) }))
    expect(rejections.counters()).toContainEqual({ protocol, reason: 'rate-limited', count: 4 })
  } finally {
    for (const json of started) json.stream.abort(new Error('test over'))
  }
})
