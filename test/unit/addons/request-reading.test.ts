import { it, expect } from 'vitest'
import pino from 'pino'
import type { Connection, Libp2p, StreamHandler } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import * as v from 'valibot'
import { encode } from 'uint8-varint'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import { defineAddon } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import { JsonStream, MAX_MESSAGE_BYTES } from '../../../src/transport/json-stream.ts'
import { trustEveryone } from '../trust-stub.ts'
import { yamuxStreamPair } from '../owner/stubs.ts'

it('a peer that starts the largest request on every stream of an add-on protocol is refused (ERR_RATE_LIMITED, counted) past eight of them, instead of having each read at once until the deadline', async () => {
  let handler!: StreamHandler
  const libp2p = { getProtocols: () => [], handle: async (_p: string, h: StreamHandler) => { handler = h }, unhandle: async () => {} } as unknown as Libp2p
  const registry = new AddonRegistry({} as unknown as AddonHost, libp2p, pino({ level: 'silent' }), trustEveryone())
  await registry.use(defineAddon({ name: 'echo', async start (ctx) { await ctx.handle('/echo/1.0.0', request => request, undefined, { roles: ['client'] }) } }), undefined)
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
    const refused = await Promise.all(started.slice(8).map(async json => await json.read(v.unknown(), { signal: AbortSignal.timeout(5000) }).catch(() => 'none')))
    expect(refused).toEqual(Array(4).fill({ ok: false, error: expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryable: true }) }))
    expect(registry.rejected()).toContainEqual({ protocol: '/echo/1.0.0', reason: 'rate-limited', count: 4 })
  } finally {
    for (const json of started) json.stream.abort(new Error('test over'))
    await registry.stopAll()
  }
})
