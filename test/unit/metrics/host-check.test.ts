import { trustEveryone } from '../trust-stub.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'
import type { TasksOverview } from '../../../src/tasks/stats.ts'
import type { AddonTasks } from '../../../src/addons/host.ts'
import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import type { GridNodeEvents } from '../../../src/node-events.ts'
import type { Member } from '../../../src/membership/member.ts'
import type { Channel } from '../../../src/channels/channel.ts'
import { metricsAddon } from '../../../src/metrics/addon.ts'
import { entry } from '../membership/helpers.ts'
import { statusOf } from '../addons/http-get.ts'
import { freePort } from '../../integration/helpers/ports.ts'

/** The few things the metrics add-on reads of its node. */
class StubHost extends EventEmitter<GridNodeEvents> implements AddonHost {
  readonly peerId = 'S'
  readonly addresses = []
  members (): Member[] { return [] }
  self (): Member { return { ...entry('S'), lastSeenMs: 0 } }
  connectedPeers (): string[] { return [] }
  rejectedMessages (): [] { return [] }
  refusedConnections (): [] { return [] }
  pipelines (): [] { return [] }
  readonly tasks = {} as unknown as AddonTasks
  certificateNotAfter (): number { return 0 }
  certificateRevoked (): boolean { return false }
  moduleCacheBytes (): number { return 0 }
  ownCertificateRevoked (): boolean { return false }
  tasksOverview (): TasksOverview { return emptyOverview() }
  channel (): Channel { throw new Error('not used') }
}

/** Serves the metrics add-on of a stub node with `options` while `body` runs. */
async function withMetrics (options: { allowedHosts?: string[] }, body: (url: string, port: number) => Promise<void>): Promise<void> {
  const registry = new AddonRegistry(new StubHost(), {} as Libp2p, pino({ level: 'silent' }), trustEveryone())
  const port = await freePort()
  await registry.use(metricsAddon, { port, ...options })
  try {
    await body(`http://127.0.0.1:${port}/metrics`, port)
  } finally {
    await registry.stopAll()
  }
}

it('the metrics endpoint answers 403 to a foreign Host or Origin by default (DNS rebinding, issue 14), 200 to IP and localhost', async () => {
  await withMetrics({}, async (url, port) => {
    expect(await statusOf(url, '/metrics', { host: `evil.example:${port}` })).toBe(403)
    expect(await statusOf(url, '/metrics', { host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).toBe(403)
    expect(await statusOf(url, '/metrics', { host: `127.0.0.1:${port}` })).toBe(200)
    expect(await statusOf(url, '/metrics', { host: `localhost:${port}` })).toBe(200)
  })
})

it('the metrics endpoint answers the names in allowedHosts', async () => {
  await withMetrics({ allowedHosts: ['prometheus.internal'] }, async (url, port) => {
    expect(await statusOf(url, '/metrics', { host: `prometheus.internal:${port}` })).toBe(200)
    expect(await statusOf(url, '/metrics', { host: `evil.example:${port}` })).toBe(403)
  })
})
