import { trustEveryone } from '../trust-stub.ts'
import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import type { Addon } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import type { GridNodeEvents } from '../../../src/node-events.ts'
import { metricsAddon } from '../../../src/metrics/addon.ts'
import { dashboardAddon } from '../../../src/dashboard/addon.ts'
import { healthAddon } from '../../../src/health/addon.ts'
import { apiAddon } from '../../../src/api/addon.ts'
import { ERR_ADDON_START, ERR_CONFIG } from '../../../src/errors.ts'

it.each([
  ['metrics', metricsAddon, { port: 0, hots: '0.0.0.0' }, 'metrics.hots'],
  ['dashboard', dashboardAddon, { port: 0, intervalMS: 100 }, 'dashboard.intervalMS'],
  ['health', healthAddon, { port: 0, alone: true, path: '/live' }, 'health.path'],
  ['api', apiAddon, { port: 0, jtw: { secretFile: '/x' } }, 'api.jtw']
] as Array<[string, Addon<never>, object, string]>)('the %s add-on refuses a misspelt option (ConfigError naming it) instead of ignoring it, and listens on nothing', async (_name, addon, options, option) => {
  const registry = new AddonRegistry(new EventEmitter<GridNodeEvents>() as unknown as AddonHost, {} as Libp2p, pino({ level: 'silent' }), trustEveryone())
  const failed = await registry.use(addon, options as never).then(() => undefined, (err: unknown) => err)
  expect(failed).toMatchObject({ code: ERR_ADDON_START, cause: { code: ERR_CONFIG, option } })
  expect(registry.names()).toEqual([])
  await registry.stopAll()
})
