import { trustEveryone } from '../trust-stub.ts'
import { describe, it, expect } from 'vitest'
import { EventEmitter, getEventListeners } from 'node:events'
import { bindable } from './bindable.ts'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import { defineAddon } from '../../../src/addons/addon.ts'
import type { AddonContext } from '../../../src/addons/addon.ts'
import type { AddonHost } from '../../../src/addons/host.ts'
import type { GridNodeEvents } from '../../../src/node-events.ts'
import { metricsAddon } from '../../../src/metrics/addon.ts'
import { entry } from '../membership/helpers.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'

class Host extends EventEmitter<GridNodeEvents> {
  self = () => ({ ...entry('S'), lastSeenMs: 0 })
  members = () => []
  pipelines = () => []
  tasksOverview = emptyOverview
}

const registryOn = (host: Host): AddonRegistry => new AddonRegistry(host as unknown as AddonHost, {} as Libp2p, pino({ level: 'silent' }), trustEveryone())

describe('node.use(addon, options, { signal })', () => {
  it('a start that hangs (ignoring its signal): abort rejects with the reason at once, the node is as it was, and what the start returns later is stopped', async () => {
    const host = new Host()
    const registry = registryOn(host)
    let ctx: AddonContext | undefined
    let finish: (() => void) | undefined
    const stops: string[] = []
    const hanging = defineAddon({
      name: 'hanging',
      start: async (c) => {
        ctx = c
        c.on('member:join', () => {})
        await new Promise<void>(resolve => { finish = resolve })
        return { stop: () => { stops.push('instance') } }
      },
      stop: () => { stops.push('addon') }
    })
    const controller = new AbortController()
    const using = registry.use(hanging, undefined, { signal: controller.signal })
    await new Promise(resolve => setImmediate(resolve))
    expect(host.listenerCount('member:join')).toBe(1)
    const reason = new Error('gave up')
    controller.abort(reason)
    await expect(using).rejects.toBe(reason)
    // as a throwing start leaves it: not in use, its listeners gone, its own signal aborted with the reason
    expect(registry.names()).toEqual([])
    expect(host.listenerCount('member:join')).toBe(0)
    expect(ctx!.signal.aborted).toBe(true)
    expect(ctx!.signal.reason).toBe(reason)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    // the name is free again
    await registry.use(defineAddon({ name: 'hanging', start: () => {} }), undefined)
    expect(registry.names()).toEqual(['hanging'])
    // the abandoned start ends after all: what it made is stopped
    finish!()
    await new Promise(resolve => setTimeout(resolve, 10))
    expect(stops).toEqual(['instance', 'addon'])
    await registry.stopAll()
  })

  it('a built-in add-on still binding its port: abort rejects with the reason and leaves no port listening', async () => {
    const registry = registryOn(new Host())
    const port = (await bindable(0))!
    const controller = new AbortController()
    const using = registry.use(metricsAddon, { port }, { signal: controller.signal })
    const reason = new Error('stop it')
    controller.abort(reason)
    await expect(using).rejects.toBe(reason)
    // the instance a start returns after the abort is stopped then: give it a moment
    for (let i = 0; i < 50 && await bindable(port) !== port; i++) await new Promise(resolve => setTimeout(resolve, 20))
    expect(await bindable(port)).toBe(port)
    expect(registry.names()).toEqual([])
  })

  it('an already-aborted signal starts nothing', async () => {
    const registry = registryOn(new Host())
    let started = false
    const reason = new Error('too late')
    await expect(registry.use(defineAddon({ name: 'never', start: () => { started = true } }), undefined, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(started).toBe(false)
    expect(registry.names()).toEqual([])
  })

  it('once started, the signal is let go: aborting it later stops nothing', async () => {
    const registry = registryOn(new Host())
    let ctx: AddonContext | undefined
    const controller = new AbortController()
    await registry.use(defineAddon({ name: 'fine', start: async (c) => { ctx = c; await new Promise(resolve => setTimeout(resolve, 5)) } }), undefined, { signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    controller.abort()
    expect(ctx!.signal.aborted).toBe(false)
    expect(registry.names()).toEqual(['fine'])
    await registry.stopAll()
    expect(ctx!.signal.aborted).toBe(true)
  })

  it('a start that throws still rejects with AddonStartError when the signal did not abort', async () => {
    const registry = registryOn(new Host())
    await expect(registry.use(defineAddon({ name: 'broken', start: () => { throw new Error('no') } }), undefined, { signal: new AbortController().signal })).rejects.toMatchObject({ code: 'ERR_ADDON_START' })
  })
})

describe('a node\'s stop and add-ons still starting', () => {
  // each start ignores its signal and returns an instance only when let go: stopAll must not resolve before it is stopped
  const slowAddon = (name: string, stops: string[], finishers: Array<() => void>): ReturnType<typeof defineAddon> => defineAddon({
    name,
    start: async () => {
      await new Promise<void>(resolve => { finishers.push(resolve) })
      return { stop: () => { stops.push(name) } }
    }
  })

  it('stopAll waits for a start under way, and for the late instance of a start whose use was aborted, and stops both', async () => {
    const registry = registryOn(new Host())
    const stops: string[] = []
    const finishers: Array<() => void> = []
    const starting = registry.use(slowAddon('starting', stops, finishers), {}).catch((err: unknown) => err)
    const abort = new AbortController()
    const given = registry.use(slowAddon('given-up', stops, finishers), {}, { signal: abort.signal }).catch((err: unknown) => err)
    abort.abort(new Error('no longer wanted'))
    expect(await given).toMatchObject({ message: 'no longer wanted' })
    let stopped = false
    const stopping = registry.stopAll().then(() => { stopped = true })
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(stopped).toBe(false)
    for (const finish of finishers) finish()
    await stopping
    expect(stops.sort()).toEqual(['given-up', 'starting'])
    expect(await starting).toMatchObject({ code: 'ERR_NODE_STOPPED' })
  })

  it('a use aborted after the stop began: the stop still waits for, and stops, the late instance of its start', async () => {
    const registry = registryOn(new Host())
    const stops: string[] = []
    const finishers: Array<() => void> = []
    const abort = new AbortController()
    const given = registry.use(slowAddon('aborted-late', stops, finishers), {}, { signal: abort.signal }).catch((err: unknown) => err)
    const stopping = registry.stopAll()
    abort.abort(new Error('no longer wanted'))
    await given
    for (const finish of finishers) finish()
    await stopping
    expect(stops).toEqual(['aborted-late'])
  })
})
