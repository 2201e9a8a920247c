import { describe, it, expect, beforeAll, afterAll, afterEach, vi } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pino from 'pino'
import type { Libp2p } from '@libp2p/interface'
import { GridNode } from '../../src/node.ts'
import { defineAddon } from '../../src/addons/addon.ts'
import { AddonStartError, ERR_NODE_STOPPED } from '../../src/errors.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { connectOutcome, freePort } from './helpers/ports.ts'

function recordingLogger (): { logger: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  return { logger: pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }), lines }
}

/** The node's libp2p, for what only it can tell (its registered protocols); a test-only look inside. */
const libp2pOf = (node: GridNode): Libp2p => (node as unknown as { libp2p: Libp2p }).libp2p

describe('GridNode lifecycle', () => {
  let grid: GridFixture
  beforeAll(async () => { grid = await GridFixture.create(1) })
  afterAll(async () => { await grid?.close() })
  afterEach(() => { vi.useRealTimers() })

  // Periodic timers (heartbeat, failure detector, anti-entropy, memory watchdog) are unref'd, so
  // process.getActiveResourcesInfo() does not list them: setInterval is faked to count them
  // (they never fire here; nothing in these tests waits on one).
  const fakeIntervals = (): void => { vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }) }

  it('a normal start runs periodic timers and serves protocols; stop clears every timer and unregisters every handler', async () => {
    fakeIntervals()
    const port = await freePort()
    const node = await GridNode.start({ host: '127.0.0.1', port, tls: await loadCerts(grid.dir, 'n1'), heartbeatMs: 200, agent: true, dataDir: join(grid.dir, 'data-ok') })
    expect(vi.getTimerCount()).toBeGreaterThanOrEqual(3)
    const protocols = libp2pOf(node).getProtocols()
    for (const p of ['/gridd/control/1.0.0', '/gridd/status/1.0.0', '/gridd/channel/1.0.0', '/gridd/channel/sync/2.0.0', '/gridd/members/sync/1.0.0', '/gridd/spawn/1.0.0', '/gridd/worker/1.0.0', '/gridd/crl/1.0.0']) expect(protocols).toContain(p)
    expect(await connectOutcome(port)).toBe('connected')
    await node.stop()
    expect(vi.getTimerCount()).toBe(0)
    expect(libp2pOf(node).getProtocols()).toEqual([])
    expect(await connectOutcome(port)).toBe('ECONNREFUSED')
    // a pipeline asked of a stopped node is refused, not a run nothing would ever cancel
    let started = 0
    node.on('pipeline:start', () => { started++ })
    expect(() => node.pipeline('late', { source: [1], stages: [{ name: 's', module: '/x.mjs' }], sink: () => {} })).toThrow(expect.objectContaining({ code: ERR_NODE_STOPPED }))
    expect(started).toBe(0)
  })

  it('stop waits for the runs it cancels to close their connectors (a durable sink flushing is not cut off)', async () => {
    const node = await GridNode.start({ host: '127.0.0.1', port: 0, tls: await loadCerts(grid.dir, 'n1'), heartbeatMs: 200 })
    let closed = false
    const sink = {
      write: async () => {},
      close: async () => { await new Promise(resolve => setTimeout(resolve, 300)); closed = true }
    }
    // no agent in this grid: the stage is never placed, the run waits until the stop cancels it
    const run = node.pipeline('flushing', { source: [1], stages: [{ name: 's', module: '/x.mjs' }], sink })
    const outcome = run.done.then(() => 'done', (err: { code?: string }) => err.code)
    await node.stop()
    expect(closed).toBe(true)
    expect(await outcome).toBe('ERR_PIPELINE_CANCELLED')
  })

  it('a service that throws during start (the agent: its data dir is not a directory) leaves no listening port and no running timer', async () => {
    fakeIntervals()
    const { logger, lines } = recordingLogger()
    const port = await freePort()
    const file = join(grid.dir, 'a-file')
    await writeFile(file, 'not a directory')
    const start = GridNode.start({ host: '127.0.0.1', port, tls: await loadCerts(grid.dir, 'n1'), heartbeatMs: 200, agent: true, dataDir: join(file, 'data'), logger })
    await expect(start).rejects.toMatchObject({ code: 'ERR_CONFIG', option: 'dataDir' })
    // the agent starts after libp2p, membership and channels: those had started and were stopped
    expect(lines.find(l => l.msg === 'a service failed to start; stopping what started')).toMatchObject({ service: 'agent' })
    expect(await connectOutcome(port)).toBe('ECONNREFUSED')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('stop is bounded by stopTimeoutMs for all parts together: an add-on whose stop never returns is destroyed, and the port still closes', async () => {
    const { logger, lines } = recordingLogger()
    const port = await freePort()
    const stuck = defineAddon({
      name: 'stuck',
      start: async (ctx) => {
        await ctx.handle('/stuck/1.0.0', () => 'hi')
        return { stop: async () => await new Promise(() => {}) }
      }
    })
    const node = await GridNode.start({ host: '127.0.0.1', port, tls: await loadCerts(grid.dir, 'n1'), heartbeatMs: 200, stopTimeoutMs: 500, addons: [[stuck]], logger })
    const t0 = Date.now()
    await node.stop()
    // generous: 500 ms of deadline, the rest is slack for a loaded machine
    expect(Date.now() - t0).toBeLessThan(5000)
    const forced = lines.find(l => l.msg === 'graceful stop timed out; destroying what was left')
    expect(forced?.forced).toEqual(['add-ons', 'seeds', 'tasks protocol', 'tasks', 'deployments protocol', 'deployments', 'pipelines', 'workers', 'control, status and channel client protocols', 'channels', 'membership', 'node events', 'revocation and expiry', 'libp2p', 'revocation list'])
    // destroyed, the stuck add-on's protocol went with it, like every other part's
    expect(libp2pOf(node).getProtocols()).toEqual([])
    expect(await connectOutcome(port)).toBe('ECONNREFUSED')
  })

  it('an add-on of init.addons that throws in start: the node stops all it started, port and timers included', async () => {
    fakeIntervals()
    const port = await freePort()
    const started: string[] = []
    const fine = defineAddon({ name: 'fine', start: () => { started.push('fine'); return { stop: () => { started.push('fine stopped') } } } })
    const broken = defineAddon({ name: 'broken', start: () => { throw new Error('no luck') } })
    const start = GridNode.start({ host: '127.0.0.1', port, tls: await loadCerts(grid.dir, 'n1'), heartbeatMs: 200, addons: [[fine], [broken]] })
    await expect(start).rejects.toBeInstanceOf(AddonStartError)
    expect(started).toEqual(['fine', 'fine stopped'])
    expect(await connectOutcome(port)).toBe('ECONNREFUSED')
    expect(vi.getTimerCount()).toBe(0)
  })
})
