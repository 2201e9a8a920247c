import { trustEveryone } from '../trust-stub.ts'
import { describe, it, expect, expectTypeOf } from 'vitest'
import * as v from 'valibot'
import { EventEmitter } from 'node:events'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { AddonRegistry } from '../../../src/addons/registry.ts'
import { defineAddon } from '../../../src/addons/addon.ts'
import type { AddonContext } from '../../../src/addons/addon.ts'
import type { AddonHost, AddonTasks } from '../../../src/addons/host.ts'
import type { GridNodeEvents } from '../../../src/node-events.ts'
import type { Member } from '../../../src/membership/member.ts'
import type { Channel } from '../../../src/channels/channel.ts'
import { NodeStoppedError } from '../../../src/errors.ts'
import { emptyOverview } from '../../../src/tasks/stats.ts'
import type { TasksOverview } from '../../../src/tasks/stats.ts'

/** A stub host (js-libp2p style components): what an add-on sees, and nothing else. */
class StubHost extends EventEmitter<GridNodeEvents> implements AddonHost {
  readonly peerId = 'S'
  readonly addresses = ['/ip4/127.0.0.1/tcp/4100/p2p/S']
  readonly member = { id: 'M', state: 'alive' } as Member
  readonly tasks = { registeredNames: () => ['noop'] } as unknown as AddonTasks
  members (): Member[] { return [this.member] }
  self (): Member { return { id: 'S', state: 'alive' } as Member }
  connectedPeers (): string[] { return ['M'] }
  rejectedMessages (): Array<{ protocol: string, reason: string, count: number }> { return [{ protocol: 'p', reason: 'schema', count: 2 }] }
  refusedConnections (): [] { return [] }
  pipelines (): [] { return [] }
  certificateNotAfter (): number { return 0 }
  certificateRevoked (): boolean { return false }
  moduleCacheBytes (): number { return 0 }
  ownCertificateRevoked (): boolean { return false }
  tasksOverview (): TasksOverview { return emptyOverview() }
  channel (name: string): Channel { return { name } as unknown as Channel }
}

const NO_LIBP2P = {} as Libp2p // handle/request are not used here

describe('an add-on sees its node through AddonHost', () => {
  it('reads the host, and its listeners go when it stops, even ones it removed itself', async () => {
    const host = new StubHost()
    const registry = new AddonRegistry(host, NO_LIBP2P, pino({ level: 'silent' }), trustEveryone())
    let ctx!: AddonContext
    const joined: string[] = []
    const gone = (): void => {}
    await registry.use(defineAddon({
      name: 'reader',
      start (c) {
        ctx = c
        c.on('member:join', m => { joined.push(m.id) })
        c.on('member:leave', gone)
        c.off('member:leave', gone)
      }
    }), undefined)
    expect({ peerId: ctx.peerId, addresses: ctx.addresses, members: ctx.members(), self: ctx.self().id, peers: ctx.connectedPeers(), pipelines: ctx.pipelines() })
      .toEqual({ peerId: 'S', addresses: host.addresses, members: [host.member], self: 'S', peers: ['M'], pipelines: [] })
    expect(ctx.channel('c')).toEqual({ name: 'c' })
    expect(ctx.tasks.registeredNames()).toEqual(['noop'])
    expect(ctx).not.toHaveProperty('node')
    expect(host.listenerCount('member:leave')).toBe(0)
    host.emit('member:join', host.member)
    expect(joined).toEqual(['M'])
    await registry.stopAll()
    expect(host.listenerCount('member:join')).toBe(0)
    expect(() => { ctx.on('member:join', () => {}) }).toThrow(NodeStoppedError)
  })
})

describe('ctx.handle and ctx.request refuse bad input with a ConfigError naming it', () => {
  it('a handler that is not a function, a protocol already handled, a target that is no peer id', async () => {
    const libp2p = { getProtocols: () => ['/taken/1.0.0'], handle: async () => {}, unhandle: async () => {} } as unknown as Libp2p
    const registry = new AddonRegistry(new StubHost(), libp2p, pino({ level: 'silent' }), trustEveryone())
    let ctx!: AddonContext
    await registry.use(defineAddon({ name: 'bad-input', start (c) { ctx = c } }), undefined)
    const configError = (option: string): unknown => expect.objectContaining({ code: 'ERR_CONFIG', option })
    await expect(ctx.handle('/mine/1.0.0', 5 as never)).rejects.toEqual(configError('handler'))
    await expect(ctx.handle('/taken/1.0.0', () => 1)).rejects.toEqual(configError('protocol'))
    await expect(ctx.request('not-a-peer-id', '/mine/1.0.0', {})).rejects.toEqual(configError('peer'))
    await registry.stopAll()
  })
})

describe('ctx.handle types the request by its schema', () => {
  // Checked by `tsc` (vitest strips types): the handler got `unknown` whatever schema checked the request,
  // so an add-on cast what the schema had already proved (the schedules protocol: `request as never`).
  it('the schema\'s output with a schema, unknown without one', async () => {
    const libp2p = { getProtocols: () => [], handle: async () => {}, unhandle: async () => {} } as unknown as Libp2p
    const registry = new AddonRegistry(new StubHost(), libp2p, pino({ level: 'silent' }), trustEveryone())
    let ctx!: AddonContext
    await registry.use(defineAddon({ name: 'typed', start (c) { ctx = c } }), undefined)
    await ctx.handle('/typed/1.0.0', request => {
      expectTypeOf(request).toEqualTypeOf<{ name: string, count?: number | undefined }>()
      return request.name.length
    }, v.object({ name: v.string(), count: v.optional(v.number()) }))
    await ctx.handle('/untyped/1.0.0', request => { expectTypeOf(request).toBeUnknown() })
    await registry.stopAll()
  })
})
