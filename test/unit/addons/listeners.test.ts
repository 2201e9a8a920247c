import { trustEveryone } from '../trust-stub.ts'
import { it, expect } from 'vitest'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import { defineAddon } from '../../../src/addons/addon.ts'
import type { AddonContext } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import type { GridNodeEvents } from '../../../src/node-events.ts'

it('a listener an add-on takes back with ctx.off is forgotten then, not kept (with what it holds) until the add-on stops', async () => {
  const emitter = new EventEmitter<GridNodeEvents>()
  let offs = 0
  const off = emitter.off.bind(emitter)
  emitter.off = ((event: keyof GridNodeEvents, listener: (...args: never[]) => void) => { offs++; return off(event, listener as never) }) as typeof emitter.off
  const registry = new AddonRegistry(emitter as unknown as AddonHost, {} as Libp2p, pino({ level: 'silent' }), trustEveryone())
  let ctx: AddonContext | undefined
  await registry.use(defineAddon({ name: 'per-request', start: c => { ctx = c } }), undefined)
  // an add-on that follows membership only while a request of its own is open, 200 requests
  for (let i = 0; i < 200; i++) {
    const listener = (): void => {}
    ctx!.on('member:join', listener)
    ctx!.off('member:join', listener)
  }
  const kept = (): void => {}
  ctx!.on('member:leave', kept)
  expect(emitter.listenerCount('member:join')).toBe(0)
  offs = 0
  await registry.stopAll()
  // only the listener still registered is removed at stop: nothing was left behind for the 200 taken back
  expect(offs).toBe(1)
  expect(emitter.listenerCount('member:leave')).toBe(0)
})

it('ctx.off of a listener registered twice takes back one registration; the other is still removed at stop', async () => {
  const emitter = new EventEmitter<GridNodeEvents>()
  const registry = new AddonRegistry(emitter as unknown as AddonHost, {} as Libp2p, pino({ level: 'silent' }), trustEveryone())
  let ctx: AddonContext | undefined
  await registry.use(defineAddon({ name: 'twice', start: c => { ctx = c } }), undefined)
  const listener = (): void => {}
  ctx!.on('member:join', listener)
  ctx!.on('member:join', listener)
  ctx!.off('member:join', listener)
  expect(emitter.listenerCount('member:join')).toBe(1)
  await registry.stopAll()
  expect(emitter.listenerCount('member:join')).toBe(0)
})
