import { describe, it, expect, afterEach } from 'vitest'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { explainDialFailure, withClient } from '../../../src/cli/client.ts'
import { fetchStatus } from '../../../src/control/status.ts'
import { parsePeerAddress } from '../../../src/transport/address.ts'
import { ERR_CONFIG, ERR_PEER_UNREACHABLE } from '../../../src/errors.ts'

/** `grid status --dev --peer <address>`'s request, as the CLI makes it: the error it ends with. */
async function statusError (address: string): Promise<unknown> {
  return await withClient({ dev: true, timeout: 10_000, logLevel: 'silent' }, address, async (libp2p, signal) => await fetchStatus(libp2p, parsePeerAddress(address), { signal }))
    .then(() => undefined, (err: unknown) => err)
}

describe('--peer at a port that is not a grid node\'s: the CLI says so, not only libp2p\'s "Missing newline"', () => {
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => { for (const close of closers.splice(0)) await close() })

  it('an HTTP server that answers at length (the HTTP API add-on is Fastify): a config error naming --peer and the ports that serve HTTP', async () => {
    const app = Fastify()
    closers.push(async () => { await app.close() })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = `127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const err = await statusError(address)
    expect(err).toMatchObject({ code: ERR_CONFIG, message: expect.stringMatching(new RegExp(`^--peer: ${address} answers, but not as a grid node .*give the node's --port; its --api, --metrics`)) })
  })

  it('an HTTP server that hangs up at once: still "could not reach" (a node at its limit hangs up too), with what to check', async () => {
    const server: Server = createServer((_req, res) => { res.end('hi') })
    closers.push(async () => { await new Promise(resolve => server.close(resolve)) })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`
    const err = await statusError(address)
    expect(err).toMatchObject({ code: ERR_PEER_UNREACHABLE, message: expect.stringMatching(/closed the connection before the TLS handshake completed: is that a grid node's --port\?/) })
  })

  it('a reset during the TLS handshake (libp2p\'s bare "Encryption failed") is told in words true for it too: not "before the TLS handshake"', () => {
    const reset = Object.assign(new Error('Encryption failed'), { name: 'EncryptionFailedError' })
    const err = explainDialFailure(reset, '127.0.0.1:4100', 'client')
    expect(err).toMatchObject({ code: ERR_PEER_UNREACHABLE })
    expect(err.message).toContain('closed the connection before the TLS handshake completed: is that a grid node\'s --port?')
    expect(err.message).not.toMatch(/before the TLS handshake:/)
  })

  it('nothing listening: "could not reach" with the refusal, and no hint about HTTP ports', async () => {
    const server: Server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`
    await new Promise(resolve => server.close(resolve))
    const err = await statusError(address)
    expect(err).toMatchObject({ code: ERR_PEER_UNREACHABLE, message: expect.stringMatching(/ECONNREFUSED/) })
    expect((err as Error).message).not.toMatch(/HTTP/)
  })
})
