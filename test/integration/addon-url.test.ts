import { it, expect, expectTypeOf, onTestFinished } from 'vitest'
import { GridNode, apiAddon, defineAddon, healthAddon, metricsAddon } from '../../src/index.ts'
import type { AddonInfo } from '../../src/index.ts'

// An add-on on port 0 (a free port) logged where it listened and that was all: node.use resolved to nothing,
// so the app embedding it could not find its own health, metrics or API endpoint. A real node in this process.
it('node.use resolves to the add-on\'s url, the port bound; node.addon(name) answers it for GridNode.start\'s addons too', async () => {
  const node = await GridNode.start({ dev: true, host: '127.0.0.1', port: 0, addons: [[metricsAddon, { port: 0 }]] })
  onTestFinished(async () => { await node.stop() })
  expectTypeOf(node.use<{ port: number }>).returns.toEqualTypeOf<Promise<AddonInfo>>()

  const metrics = node.addon('metrics')
  expect(metrics).toEqual({ name: 'metrics', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/) })
  expect(metrics!.url).not.toMatch(/:0\//)
  expect((await fetch(metrics!.url!)).status).toBe(200)

  const health = await node.use(healthAddon, { port: 0, alone: true })
  expect(health).toEqual({ name: 'health', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/) })
  expect(await (await fetch(`${health.url!}/healthz`)).json()).toEqual({ status: 'ok' })
  expect(node.addon('health')).toEqual(health)

  const api = await node.use(apiAddon, { port: 0 })
  expect((await fetch(`${api.url!}/docs/json`)).status).toBe(200)

  // one that serves nothing over HTTP has only its name; one not in use, nothing
  expect(await node.use(defineAddon({ name: 'quiet', start: () => ({ stop: () => {} }) }))).toEqual({ name: 'quiet' })
  expect(node.addon('dashboard')).toBeUndefined()
})
