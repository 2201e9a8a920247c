import { describe, it, expect } from 'vitest'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { serveHttp } from '../../../src/addons/http-server.ts'
import { ConfigError } from '../../../src/errors.ts'

describe('serveHttp on a port already in use', () => {
  it('a ConfigError naming the server\'s port and its flag, not a bare EADDRINUSE', async () => {
    const taken = createServer()
    taken.listen(0, '127.0.0.1')
    await once(taken, 'listening')
    try {
      const port = (taken.address() as AddressInfo).port
      const err = await serveHttp('metrics', (_req, res) => { res.end() }, { port }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConfigError)
      expect(err).toMatchObject({ option: 'metrics port', code: 'ERR_CONFIG' })
      expect((err as Error).message).toBe(`metrics port: 127.0.0.1:${port} is already in use: another process listens there; stop it or pick another port (--metrics)`)
      expect((err as Error).cause).toMatchObject({ code: 'EADDRINUSE' })
    } finally {
      taken.close()
    }
  })
})
