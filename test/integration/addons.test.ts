import { describe, it, expect, beforeAll, afterAll, onTestFinished } from 'vitest'
import { fileURLToPath } from 'node:url'
import { GridNode } from '../../src/node.ts'
import { defineAddon } from '../../src/addons/index.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { AddonDependencyError, AddonExistsError, AddonStartError, ConfigError, ERR_PROTOCOL_NOT_SERVED, NodeStoppedError, ProtocolNotServedError } from '../../src/errors.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

const HELLO = fileURLToPath(new URL('../../examples/addon/hello-addon.ts', import.meta.url))

describe('add-ons', () => {
  let grid: GridFixture
  let a: GridNode
  let b: GridNode

  beforeAll(async () => {
    grid = await GridFixture.create(4)
    a = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n1'), heartbeatMs: 200 })
    b = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n2'), heartbeatMs: 200, peers: [a.addresses[0]!] })
    await eventually(() => a.members().some(m => m.id === b.peerId && m.state === 'alive') ? true : undefined)
  })

  afterAll(async () => {
    await cleanup(async () => await b?.stop(), async () => await a?.stop(), async () => await grid?.close())
  })

  it('defineAddon checks the shape where it is written', () => {
    expect(() => defineAddon({ name: 'bad name!', start: () => {} })).toThrow(ConfigError)
    expect(() => defineAddon({ name: 'x', start: 'no' as never })).toThrow(ConfigError)
  })

  it('dependencies must be in use first; stop runs in reverse order of start', async () => {
    const node = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n3') })
    onTestFinished(async () => { await node.stop() })
    const events: string[] = []
    const make = (name: string, dependencies: string[] = []) => defineAddon({
      name,
      dependencies,
      start: () => { events.push(`start ${name}`); return { stop: () => { events.push(`stop ${name}`) } } }
    })
    await expect(node.use(make('api', ['db']))).rejects.toBeInstanceOf(AddonDependencyError)
    await expect(node.use(make('api', ['db']))).rejects.toMatchObject({ code: 'ERR_ADDON_DEPENDENCY', missing: ['db'] })
    await node.use(make('db'))
    await node.use(make('api', ['db']))
    await node.use(make('cache', ['db']))
    await expect(node.use(make('db'))).rejects.toBeInstanceOf(AddonExistsError)
    expect(node.addonNames()).toEqual(['db', 'api', 'cache'])
    await node.stop()
    expect(events).toEqual(['start db', 'start api', 'start cache', 'stop cache', 'stop api', 'stop db'])
  })

  it('an add-on that throws in start fails use, takes its protocol and listeners with it, and the node stays healthy', async () => {
    let calls = 0
    const broken = defineAddon({
      name: 'broken',
      async start (ctx) {
        ctx.on('member:join', () => { calls++ })
        await ctx.handle('/test/broken/1.0.0', () => 'should not be served')
        throw new Error('boom in start')
      }
    })
    const err = await a.use(broken).catch(e => e)
    expect(err).toBeInstanceOf(AddonStartError)
    expect(err.message).toMatch(/boom in start/)
    expect(a.addonNames()).not.toContain('broken')
    expect(a.listenerCount('member:join')).toBe(0)
    // the node still serves status and takes a new member
    const status = await runGrid(['status', '--peer', `127.0.0.1:${a.addresses[0]!.split('/')[4]}`, '--certs', grid.dir, '--json', '--timeout', '5000'])
    expect(status.code).toBe(0)
    const late = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n4'), heartbeatMs: 200, peers: [a.addresses[0]!] })
    try {
      await eventually(() => a.members().some(m => m.id === late.peerId && m.state === 'alive') ? true : undefined)
      expect(calls).toBe(0)
    } finally {
      await late.stop()
    }
    // and the same name can be used again once fixed
    await a.use(defineAddon({ name: 'broken', start: () => {} }))
    expect(a.addonNames()).toContain('broken')
  })

  it("an add-on's own protocol is reachable from another node over mTLS; a failed add-on's is not", async () => {
    await a.use(defineAddon({
      name: 'echo-addon',
      async start (ctx) { await ctx.handle('/test/echo/1.0.0', (request, from) => ({ echoed: request, from })) }
    }))
    let answer: unknown
    let refused: unknown
    await b.use(defineAddon({
      name: 'caller',
      async start (ctx) {
        answer = await ctx.request(a.peerId, '/test/echo/1.0.0', { hi: 1 })
        refused = await ctx.request(a.peerId, '/test/broken/1.0.0', {}).then(() => 'served', (e: unknown) => e)
      }
    }))
    expect(answer).toEqual({ echoed: { hi: 1 }, from: b.peerId })
    // the other node answers the protocol negotiation with "not supported", not a timeout or a reset: a code to match on
    expect(refused).toBeInstanceOf(ProtocolNotServedError)
    expect(refused).toMatchObject({ code: ERR_PROTOCOL_NOT_SERVED, protocol: '/test/broken/1.0.0', cause: { name: 'UnsupportedProtocolError' } })
  })

  it('a protocol already served (by another add-on or by the node) fails the second add-on and leaves the first one serving', async () => {
    const twin = (name: string, protocol: string) => defineAddon({ name, async start (ctx) { await ctx.handle(protocol, () => 'twin') } })
    await expect(a.use(twin('echo-twin', '/test/echo/1.0.0'))).rejects.toBeInstanceOf(AddonStartError)
    await expect(a.use(twin('status-twin', '/gridd/status/1.0.0'))).rejects.toBeInstanceOf(AddonStartError)
    let answer: unknown
    await b.use(defineAddon({
      name: 'caller-again',
      async start (ctx) { answer = await ctx.request(a.peerId, '/test/echo/1.0.0', { again: true }) }
    }))
    expect(answer).toEqual({ echoed: { again: true }, from: b.peerId })
    const status = await runGrid(['status', '--peer', `127.0.0.1:${a.addresses[0]!.split('/')[4]}`, '--certs', grid.dir, '--json', '--timeout', '5000'])
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout).self.id).toBe(a.peerId)
  })

  it('an add-on still starting when the node stops sees its signal aborted and is stopped; use after stop is refused', async () => {
    const node = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n4') })
    onTestFinished(async () => { await node.stop() })
    const events: string[] = []
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    const slow = defineAddon({
      name: 'slow',
      async start (ctx) {
        ctx.on('member:join', () => {})
        ctx.signal.addEventListener('abort', () => { events.push('aborted'); release() })
        await gate
        return { stop: () => { events.push('stopped') } }
      }
    })
    const using = node.use(slow).catch((e: unknown) => e)
    await node.stop()
    expect(await using).toBeInstanceOf(NodeStoppedError)
    expect(events).toEqual(['aborted', 'stopped'])
    expect(node.listenerCount('member:join')).toBe(0)
    expect(node.addonNames()).toEqual([])
    await expect(node.use(defineAddon({ name: 'late', start: () => {} }))).rejects.toBeInstanceOf(NodeStoppedError)
  })

  it('grid node --addon loads an add-on module with JSON options; a bad module exits 2', async () => {
    const node = await grid.start('n3', ['--addon', `${HELLO}:{"greeting":"hej"}`, '--peer', `127.0.0.1:${a.addresses[0]!.split('/')[4]}`])
    await eventually(() => b.members().some(m => m.id === node.peerId && m.state === 'alive') ? true : undefined)
    let answer: unknown
    await b.use(defineAddon({
      name: 'hello-caller',
      async start (ctx) { answer = await ctx.request(node.peerId, '/example/hello/1.0.0', { name: 'B' }) }
    }))
    expect(answer).toMatchObject({ message: 'hej, B', from: node.peerId })
    const bad = await runGrid(['node', '--certs', grid.dir, '--name', 'n4', '--host', '127.0.0.1', '--port', '0', '--addon', './no/such/addon.ts'], { timeoutMs: 20_000 })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--addon: cannot load/)
  }, 60_000)
})
