import { describe, it, expect } from 'vitest'
import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import { trustEveryone } from '../trust-stub.ts'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import { defineAddon } from '../../../src/addons/addon.ts'
import type { AddonContext } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import { GridError } from '../../../src/errors.ts'
import { MAX_MESSAGE_BYTES } from '../../../src/transport/json-stream.ts'

const PEER = '12D3KooWCNGpQswe2UV9oQzQa2mvkcjdGtMpzHD8NTojN9DZ1JMP'
/** An add-on's ctx on a node whose libp2p dial fails as libp2p's does: an Error with a name and no `code`. */
async function failingDial (name: string, message: string): Promise<{ ctx: AddonContext, dials: () => number }> {
  let dials = 0
  const libp2p = {
    dialProtocol: async () => {
      dials++
      throw Object.assign(new Error(message), { name })
    }
  } as unknown as Libp2p
  const registry = new AddonRegistry(new EventEmitter() as unknown as AddonHost, libp2p, pino({ level: 'silent' }), trustEveryone())
  let ctx!: AddonContext
  await registry.use(defineAddon({ name: 'caller', start (c) { ctx = c } }), undefined)
  return { ctx, dials: () => dials }
}

describe('ctx.request fails with a GridError an add-on can match on, never a bare libp2p or JSON error', () => {
  it('a body JSON cannot carry is refused before any dial: NotSerializableError', async () => {
    const { ctx, dials } = await failingDial('Error', 'not dialled')
    for (const body of [{ n: 1n }, () => 1, Symbol('s')]) {
      const err = await ctx.request(PEER, '/x/1.0.0', body).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(GridError)
      expect(err).toMatchObject({ code: 'ERR_NOT_SERIALIZABLE', message: expect.stringMatching(/request body/) })
    }
    const big = await ctx.request(PEER, '/x/1.0.0', { s: 'x'.repeat(MAX_MESSAGE_BYTES) }).catch((e: unknown) => e)
    expect(big).toMatchObject({ code: 'ERR_VALUE_TOO_LARGE' })
    expect(dials()).toBe(0)
  })

  it('a peer that serves no such protocol: ProtocolNotServedError naming it', async () => {
    const { ctx } = await failingDial('UnsupportedProtocolError', 'Protocol selection failed - could not negotiate /x/1.0.0')
    const err = await ctx.request(PEER, '/x/1.0.0', {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GridError)
    expect(err).toMatchObject({ code: 'ERR_PROTOCOL_NOT_SERVED', protocol: '/x/1.0.0', retryable: false })
    expect((err as Error).message).toContain(PEER)
  })

  it('a peer that cannot be reached: PeerUnreachableError, retryable, libp2p\'s error as its cause', async () => {
    const { ctx } = await failingDial('ConnectionFailedError', 'connect ECONNREFUSED 127.0.0.1:1')
    const err = await ctx.request(multiaddr('/ip4/127.0.0.1/tcp/1'), '/x/1.0.0', {}).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_PEER_UNREACHABLE', retryable: true, cause: { name: 'ConnectionFailedError' } })
  })

  it("the caller's signal ends it with that signal's reason, as every gridd wait does", async () => {
    const { ctx } = await failingDial('AbortError', 'The operation was aborted')
    const reason = new Error('caller gave up')
    const err = await ctx.request(PEER, '/x/1.0.0', {}, { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e)
    expect(err).toBe(reason)
  })
})
