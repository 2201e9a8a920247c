import { trustEveryone } from '../trust-stub.ts'
import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import { defineAddon } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import type { GridNodeEvents } from '../../../src/node-events.ts'

it('an add-on whose instance stop throws still has its own stop called', async () => {
  const host = new EventEmitter<GridNodeEvents>() as unknown as AddonHost
  const registry = new AddonRegistry(host, {} as Libp2p, pino({ level: 'silent' }), trustEveryone())
  const stopped: string[] = []
  await registry.use(defineAddon({
    name: 'half',
    start: () => ({ stop: () => { stopped.push('instance'); throw new Error('instance stop failed') } }),
    stop: () => { stopped.push('addon') }
  }), undefined)
  await registry.stopAll()
  expect(stopped).toEqual(['instance', 'addon'])
})
