import { trustEveryone } from '../trust-stub.ts'
import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import { connect } from 'node:net'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import type { Addon } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import type { GridNodeEvents } from '../../../src/node-events.ts'
import { metricsAddon } from '../../../src/metrics/addon.ts'
import { dashboardAddon } from '../../../src/dashboard/addon.ts'
import { healthAddon } from '../../../src/health/addon.ts'
import { entry } from '../membership/helpers.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'
import { freePort } from '../../integration/helpers/ports.ts'

class Host extends EventEmitter<GridNodeEvents> {
  self = () => ({ ...entry('S'), lastSeenMs: 0 })
  members = () => []
  connectedPeers = () => []
  rejectedMessages = () => []
  certificateNotAfter = () => Date.now() + 86_400_000
  pipelines = () => []
  tasksOverview = emptyOverview
}

/** Sends `GET <target>` as raw bytes (an HTTP client would normalize it) and resolves with the status line's code. */
async function rawStatus (port: number, target: string): Promise<number> {
  const socket = connect(port, '127.0.0.1')
  socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
  let text = ''
  for await (const chunk of socket) text += String(chunk)
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
}

it.each([
  ['metrics', metricsAddon, {}],
  ['dashboard', dashboardAddon, {}],
  ['health', healthAddon, { alone: true }]
] as Array<[string, Addon<never>, object]>)('%s answers a request target no URL parser takes ("//", "//[") with 4xx, and stays up', async (_name, addon, options) => {
  const registry = new AddonRegistry(new Host() as unknown as AddonHost, {} as Libp2p, pino({ level: 'silent' }), trustEveryone())
  const port = await freePort()
  await registry.use(addon, { port, ...options } as never)
  try {
    for (const target of ['//', '//[']) {
      const status = await rawStatus(port, target)
      expect(status).toBeGreaterThanOrEqual(400)
      expect(status).toBeLessThan(500)
    }
  } finally {
    await registry.stopAll()
  }
})
