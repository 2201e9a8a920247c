import { describe, it, expect } from 'vitest'
import { streamPair } from '@libp2p/utils'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, PeerId } from '@libp2p/interface'
import * as v from 'valibot'
import { guarded, handlerOptions, ANY_ROLE } from '../../../src/trust/guard.ts'
import { PeerCredentials } from '../../../src/trust/credentials.ts'
import type { Role } from '../../../src/trust/roles.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { ERR_FORBIDDEN, ForbiddenError } from '../../../src/errors.ts'

const echoSchema = v.object({ echo: v.string() })

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** Opens a stream to `handler` from `remote`; returns the caller's side and the handler's promise. */
async function call (handler: ReturnType<typeof guarded>, remote: PeerId): Promise<{ json: JsonStream, served: Promise<void> }> {
  const [outbound, inbound] = await streamPair()
  const served = Promise.resolve(handler(inbound, { remotePeer: remote } as unknown as Connection))
  return { json: new JsonStream(outbound), served }
}

describe('guarded protocol handlers', () => {
  it('serves a caller holding one of the roles; refuses any other with one refusal frame, never running the handler', async () => {
    const credentials = new PeerCredentials()
    const member = await peer()
    const client = await peer()
    const stranger = await peer()
    credentials.record(member.toString(), { name: 'node', serial: '1', roles: new Set<Role>(['member', 'agent']), notAfter: Infinity })
    credentials.record(client.toString(), { name: 'client', serial: '2', roles: new Set<Role>(['client']), notAfter: Infinity })
    let ran = 0
    const handler = guarded(credentials, '/test/echo/1.0.0', ['member', 'admin'], async stream => {
      ran++
      const json = new JsonStream(stream)
      const request = await json.read(echoSchema)
      await json.write({ echo: request.echo })
      await json.close()
    })

    const served = await call(handler, member)
    await served.json.write({ echo: 'hi' })
    expect(await served.json.read(echoSchema)).toEqual({ echo: 'hi' })
    await served.served
    expect(ran).toBe(1)

    for (const caller of [client, stranger]) {
      const refused = await call(handler, caller)
      const read = refused.json.read(echoSchema)
      await expect(read).rejects.toBeInstanceOf(ForbiddenError)
      await expect(read).rejects.toMatchObject({ code: ERR_FORBIDDEN, message: expect.stringContaining('/test/echo/1.0.0: it needs the member or admin role') })
      await refused.served
    }
    expect(ran).toBe(1)
  })

  it('a refusal never throws into libp2p: the guarded handler resolves even when the caller never reads', async () => {
    const credentials = new PeerCredentials()
    const client = await peer()
    const handler = guarded(credentials, '/test/x/1.0.0', ['member'], async () => { throw new Error('must not run') })
    const { served } = await call(handler, client)
    // resolves (2 s write timeout at most), never rejects
    await expect(served).resolves.toBeUndefined()
  })

  it('ANY_ROLE admits every role; handlerOptions passes a per-connection stream cap only when set', () => {
    expect([...ANY_ROLE].sort()).toEqual(['admin', 'agent', 'client', 'member'])
    expect(handlerOptions({ roles: ANY_ROLE })).toEqual({})
    expect(handlerOptions({ roles: ANY_ROLE, maxInboundStreams: 1024 })).toEqual({ maxInboundStreams: 1024 })
  })
})
