import { trustEveryone } from '../trust-stub.ts'
import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import { createServer } from 'node:net'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import { defineAddon } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import type { GridNodeEvents } from '../../../src/node-events.ts'
import { serveHttp } from '../../../src/addons/http-server.ts'

const NO_LIBP2P = {} as Libp2p

/** Whether `port` on 127.0.0.1 can be bound again (nothing listens there any more). */
async function free (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const probe = createServer()
    probe.once('error', () => { resolve(false) })
    probe.listen(port, '127.0.0.1', () => { probe.close(() => { resolve(true) }) })
  })
}

it('destroy (a stop past its deadline) still closes what the add-ons started before a stuck one opened', async () => {
  const host = new EventEmitter<GridNodeEvents>() as unknown as AddonHost
  const registry = new AddonRegistry(host, NO_LIBP2P, pino({ level: 'silent' }), trustEveryone())
  let port = 0
  await registry.use(defineAddon({
    name: 'server',
    async start () {
      const endpoint = await serveHttp('test', (_req, res) => { res.end() }, { port: 0 })
      port = Number(new URL(endpoint.origin).port)
      return { stop: endpoint.close }
    }
  }), undefined)
  // started last, so stopped first: its stop never returns
  await registry.use(defineAddon({ name: 'stuck', start: () => ({ stop: async () => { await new Promise(() => {}) } }) }), undefined)
  void registry.stopAll()
  await new Promise(resolve => setTimeout(resolve, 50))
  // what ServiceList does once stopTimeoutMs has passed
  await registry.destroy()
  await new Promise(resolve => setTimeout(resolve, 50))
  expect(registry.names()).toEqual([])
  expect(await free(port)).toBe(true)
})
