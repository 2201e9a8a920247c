import { it, expect } from 'vitest'
import pino from 'pino'
import type { Libp2p, StreamHandler } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import { defineAddon } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import type { JsonStream } from '../../../src/transport/json-stream.ts'
import { trustEveryone } from '../trust-stub.ts'
import { answersWithin, startLargestRequests } from '../transport/largest-requests.ts'

it('a peer that starts the largest request on every stream of an add-on protocol is refused (ERR_RATE_LIMITED, counted) past eight of them, instead of having each read at once until the deadline', async () => {
  let handler!: StreamHandler
  const libp2p = { getProtocols: () => [], handle: async (_p: string, h: StreamHandler) => { handler = h }, unhandle: async () => {} } as unknown as Libp2p
  const registry = new AddonRegistry({} as unknown as AddonHost, libp2p, pino({ level: 'silent' }), trustEveryone())
  await registry.use(defineAddon({ name: 'echo', async start (ctx) { await ctx.handle('/echo/1.0.0', request => request, undefined, { roles: ['client'] }) } }), undefined)
  let started: JsonStream[] = []
  try {
    started = await startLargestRequests(handler, 12)
    const refused = await answersWithin(started.slice(8), 5000)
    expect(refused).toEqual(Array(4).fill({ ok: false, error: expect.objectContaining({ code: 'ERR_RATE_LIMITED', retryable: true }) }))
    expect(registry.rejected()).toContainEqual({ protocol: '/echo/1.0.0', reason: 'rate-limited', count: 4 })
  } finally {
    for (const json of started) json.stream.abort(new Error('test over'))
    await registry.stopAll()
  }
})
