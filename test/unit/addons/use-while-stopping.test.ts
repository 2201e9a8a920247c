import { trustEveryone } from '../trust-stub.ts'
import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import { bindable } from './bindable.ts'
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

class Host extends EventEmitter<GridNodeEvents> {
  self = () => ({ ...entry('S'), lastSeenMs: 0 })
  members = () => []
  pipelines = () => []
  tasksOverview = emptyOverview
}

it.each([
  ['metrics', metricsAddon, {}],
  ['dashboard', dashboardAddon, {}],
  ['health', healthAddon, { alone: true }]
] as Array<[string, Addon<never>, object]>)('%s, used while the node stops, leaves no port listening', async (_name, addon, options) => {
  const registry = new AddonRegistry(new Host() as unknown as AddonHost, {} as Libp2p, pino({ level: 'silent' }), trustEveryone())
  const port = (await bindable(0))!
  const using = registry.use(addon, { port, ...options } as never)
  // the node begins stopping while the add-on is still binding its port
  await registry.stopAll()
  await expect(using).rejects.toThrow()
  expect(await bindable(port)).toBe(port)
})
