import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { GridNode } from '../../src/node.ts'
import { ConfigError, ERR_NODE_STOPPED, NodeStoppedError } from '../../src/errors.ts'

const ECHO = fileURLToPath(new URL('../fixtures/stages/echo.ts', import.meta.url))
const DEFINITION = fileURLToPath(new URL('../fixtures/durable/deployment.mjs', import.meta.url))

/** The embedded API as a caller meets it: bad input and a stopped node fail at the call, with a typed error. */
describe('GridNode API', () => {
  let dir: string
  let node: GridNode
  const start = async (): Promise<GridNode> => await GridNode.start({ dev: true, host: '127.0.0.1', port: 0, stateHome: dir, tasks: { durable: false } })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-node-api-'))
    node = await start()
  })
  afterAll(async () => {
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('workers.spawn honours an already-aborted signal before placing anything', async () => {
    const abort = new AbortController()
    abort.abort(new Error('given up'))
    await expect(node.workers.spawn({ stage: 'echo', module: ECHO }, { signal: abort.signal })).rejects.toThrow('given up')
  })

  it('workers.spawn aborted while it waits for room rejects with the signal\'s reason, as an already-aborted one does', async () => {
    const abort = new AbortController()
    setTimeout(() => { abort.abort(new Error('given up')) }, 100)
    await expect(node.workers.spawn({ stage: 'echo', module: ECHO }, { signal: abort.signal, placementTimeoutMs: 30_000 })).rejects.toThrow('given up')
  })

  it('workers.spawn refuses an unknown option (a typo) instead of spawning with its default', async () => {
    const err = await node.workers.spawn({ stage: 'echo', module: ECHO, resorces: { cpu: 2 } } as never).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).option).toBe('resorces')
  })

  it('deploy honours an already-aborted signal before reading or bundling the file', async () => {
    const abort = new AbortController()
    abort.abort(new Error('given up'))
    await expect(node.deploy('d', join(dir, 'not-written-yet.mjs'), { signal: abort.signal })).rejects.toThrow('given up')
  })

  it('deploy refuses an unknown option (a misspelt params would deploy without them)', async () => {
    const err = await node.deploy('d', DEFINITION, { parms: { redis: 'x' } } as never).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).option).toBe('parms')
  })

  it('dial refuses what is not a multiaddr with a ConfigError, not a TypeError from libp2p', async () => {
    const err = await node.dial('127.0.0.1:4100' as never).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).option).toBe('address')
  })

  it('dial, run.push and session.events refuse a signal that is no AbortSignal, or a misspelt key, with a ConfigError at the call', async () => {
    const address = multiaddr('/ip4/127.0.0.1/tcp/9')
    for (const [call, option] of [
      [async () => await node.dial(address, { signal: {} } as never), 'dial.signal'],
      [async () => await node.dial(address, { signl: AbortSignal.abort() } as never), 'dial.signl']
    ] as const) {
      const err = await call().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).option).toBe(option)
    }
    const run = node.pipeline('signal-checks', { stages: [{ name: 'echo', module: ECHO }], sink: () => {} })
    try {
      const err = await run.push(1, { signal: 'soon' } as never).catch((e: unknown) => e)
      expect((err as ConfigError).option).toBe('push.signal')
    } finally {
      run.cancel()
    }
    expect(() => node.session({}).events({ signals: AbortSignal.abort() } as never)).toThrow(ConfigError)
  })

  it('status(null) from a JS caller is status()', () => {
    expect(node.status(null as never).self.id).toBe(node.peerId)
  })

  it('a listener that throws is logged: membership still tells the node\'s own listeners after it, libp2p makes no uncaught exception of it', async () => {
    const uncaught: unknown[] = []
    const onUncaught = (err: unknown): void => { uncaught.push(err) }
    process.on('uncaughtException', onUncaught)
    const other = await start()
    try {
      node.on('member:join', () => { throw new Error('app listener threw') })
      node.on('peer:connect', () => { throw new Error('app listener threw') })
      // registered after the node's relay, as the node's own parts are (workers, channels)
      const heard: string[] = []
      const membership = (node as unknown as { membership: { on: (e: 'member:join', f: (m: { id: string }) => void) => void } }).membership
      membership.on('member:join', m => { heard.push(m.id) })
      await other.dial(multiaddr(node.addresses[0]!))
      for (let i = 0; i < 100 && !heard.includes(other.peerId); i++) await new Promise(resolve => setTimeout(resolve, 50))
      expect(heard).toContain(other.peerId)
      expect(uncaught).toEqual([])
    } finally {
      node.removeAllListeners()
      process.off('uncaughtException', onUncaught)
      await other.stop()
    }
  })

  it('every call that would start something fails with NodeStoppedError once the node is stopped; a second stop is fine', async () => {
    const stopped = await start()
    await stopped.stop()
    await stopped.stop()
    const calls: Array<[string, () => unknown]> = [
      ['setWeight', () => { stopped.setWeight(2) }],
      ['setStrategy', () => { stopped.setStrategy('vertical') }],
      ['submit', () => stopped.submit(ECHO, 1)],
      ['session', () => stopped.session()],
      ['channel', () => stopped.channel('c')],
      ['pipeline', () => stopped.pipeline('p', { source: [1], stages: [{ name: 'echo', module: ECHO }], sink: () => {} })]
    ]
    for (const [name, call] of calls) expect(call, name).toThrow(NodeStoppedError)
    for (const [name, call] of [
      ['run', async () => await stopped.run(ECHO, 1)],
      ['deploy', async () => await stopped.deploy('d', DEFINITION)],
      ['dial', async () => await stopped.dial(multiaddr('/ip4/127.0.0.1/tcp/1'))],
      ['workers.spawn', async () => await stopped.workers.spawn({ stage: 'echo', module: ECHO })]
    ] as Array<[string, () => Promise<unknown>]>) {
      const err = await call().catch((e: unknown) => e)
      expect((err as NodeStoppedError).code, name).toBe(ERR_NODE_STOPPED)
    }
  })
})
