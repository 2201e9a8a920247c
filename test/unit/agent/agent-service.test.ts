import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import type { AgentService } from '../../../src/agent/agent-service.ts'
import { requestJson } from '../../../src/transport/json-stream.ts'
import { JsonStream } from '../../../src/transport/json-stream.ts'
import { MAX_ITEMS_IN_FLIGHT, SPAWN_PROTOCOL, WORKER_PROTOCOL, spawnResponseSchema, workerDownSchema } from '../../../src/wire/spawn-protocol.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { RemoteWorker } from '../../../src/owner/remote-worker.ts'
import type { WorkerInfo } from '../../../src/agent/local-worker.ts'
import { ERR_ITEM_TOO_LARGE, ERR_NOT_SERIALIZABLE, ItemTooLargeError, NotSerializableError, RemoteError, WorkerExitedError, WorkerStoppedError } from '../../../src/errors.ts'
import type { FakePeer, FakeSpawner } from '../owner/stubs.ts'
import { agentHarness } from './service-harness.ts'
import type { AgentHarness } from './service-harness.ts'

const SOURCE = 'export default item => item\n'
const ATTACH_TIMEOUT_MS = 200
/** Set by a test: the stubbed workers then never answer, so every item stays in flight. */
let hang = false
/** Set by a test: how the stubbed workers answer instead of echoing. */
let behave: ((item: unknown) => Promise<unknown>) | undefined

/** The agent's service (real) on a stubbed spawner and an in-memory libp2p; the requester speaks the wire by hand. */
describe('AgentService: bounds on what a requester may leave or push (stubbed components)', () => {
  let requester: FakePeer
  let agent: FakePeer
  let spawner: FakeSpawner
  let service: AgentService
  let harness: AgentHarness

  beforeEach(async () => {
    hang = false
    behave = undefined
    harness = await agentHarness(async item => behave != null ? await behave(item) : hang ? await new Promise(() => {}) : item, { options: { attachTimeoutMs: ATTACH_TIMEOUT_MS } })
    ;({ requester, agent, spawner, service } = harness)
  })

  afterEach(async () => { await harness.close() })

  async function spawnUnattached (): Promise<WorkerInfo> {
    const request = { op: 'spawn', stage: 'echo', module: { path: '/requester/echo.mjs', sha256: sha256(SOURCE), source: SOURCE }, resources: { cpu: 1, memoryMb: 0 } }
    const reply = await requestJson(requester.libp2p, peerIdFromString(agent.id), SPAWN_PROTOCOL, request, spawnResponseSchema)
    if (!reply.ok || reply.worker == null) throw new Error('spawn failed')
    return reply.worker
  }

  /** A rogue requester: attaches to `id` by hand and sends `batches` of items numbered from 0. */
  async function rogueStream (id: string, batches: number[]): Promise<JsonStream> {
    const stream = await requester.libp2p.dialProtocol(peerIdFromString(agent.id), WORKER_PROTOCOL)
    const json = new JsonStream(stream, { maxBytes: 16 * 1024 * 1024 })
    await json.write({ type: 'attach', id })
    let n = 0
    try {
      for (const size of batches) await json.write({ type: 'batch', items: Array.from({ length: size }, () => ({ n: n++, item: n })) })
    } catch {
      // the agent may reset the stream while a large batch is still being written: that is its answer
    }
    return json
  }

  /** Reads the worker stream until the agent closes it (or 5 s pass, which fails the test). */
  async function readUntilClosed (json: JsonStream): Promise<'closed' | 'open'> {
    const signal = AbortSignal.timeout(5000)
    try {
      while (true) await json.read(workerDownSchema, { signal })
    } catch {
      return signal.aborted ? 'open' : 'closed'
    }
  }

  it(`closes a worker stream whose requester pushes more than ${MAX_ITEMS_IN_FLIGHT} unanswered items, kills the worker, counts it`, async () => {
    hang = true
    const info = await spawnUnattached()
    const json = await rogueStream(info.id, [3000, 3000])
    expect(await readUntilClosed(json)).toBe('closed')
    // the worker belonged to that stream: it is killed with it
    await vi.waitFor(() => { expect(spawner.get(info.id)).toBeUndefined() })
    expect(service.rejected()).toEqual([{ protocol: WORKER_PROTOCOL, reason: 'protocol', count: 1 }])
  })

  it('closes a worker stream that sends one batch of 65,536 items (over the schema bound)', async () => {
    const info = await spawnUnattached()
    const json = await rogueStream(info.id, [65_536])
    expect(await readUntilClosed(json)).toBe('closed')
    expect(service.rejected()).toEqual([{ protocol: WORKER_PROTOCOL, reason: 'protocol', count: 1 }])
  })

  it(`an honest requester with ${MAX_ITEMS_IN_FLIGHT + 1000} items at once holds the excess back: all answered, stream kept`, async () => {
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    const count = MAX_ITEMS_IN_FLIGHT + 1000
    const out = await Promise.all(Array.from({ length: count }, async (_, i) => await remote.process(i)))
    expect(out).toEqual(Array.from({ length: count }, (_, i) => i))
    expect(service.rejected()).toEqual([])
    expect(spawner.get(info.id)?.alive).toBe(true)
    await remote.kill()
  })

  it('counts malformed spawn requests (they were logged one warning each, found by npm run fuzz)', async () => {
    for (let i = 0; i < 10; i++) {
      await requestJson(requester.libp2p, peerIdFromString(agent.id), SPAWN_PROTOCOL, { op: 'spawn', stage: 1e308 }, spawnResponseSchema).catch(() => {})
    }
    await vi.waitFor(() => { expect(service.rejected()).toEqual([{ protocol: SPAWN_PROTOCOL, reason: 'malformed', count: 10 }]) })
  })

  it('kills a worker whose requester never attaches, once attachTimeoutMs has passed', async () => {
    const info = await spawnUnattached()
    const worker = spawner.get(info.id)!
    expect(worker.alive).toBe(true)
    const exit = await worker.exited
    expect(exit.signal).toBe('SIGKILL')
  })

  it('keeps a worker whose requester attached in time', async () => {
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    expect(await remote.process({ n: 1 })).toEqual({ n: 1 })
    // "was not killed": five times the deadline is ample for a timer that should not fire at all
    await new Promise(resolve => setTimeout(resolve, 5 * ATTACH_TIMEOUT_MS))
    expect(spawner.get(info.id)?.alive).toBe(true)
    await remote.kill()
  })

  it('an item its worker\'s exit ends fails by the exit notice (a WorkerExitedError at the requester), never relayed as the item\'s own error', async () => {
    let fail: ((err: Error) => void) | undefined
    behave = async () => await new Promise((_resolve, reject) => { fail = reject })
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    const outcome = remote.process('x').catch((err: unknown) => err)
    await vi.waitFor(() => { expect(fail).toBeDefined() })
    // as LocalWorker fails the items of a child that exited, then its exit resolves; an error result
    // relayed for it would reach the requester first, as a RemoteError
    fail!(new WorkerExitedError(info.id, 'code 1'))
    await new Promise(resolve => setTimeout(resolve, 50))
    spawner.get(info.id)!.end({ code: 1, signal: null })
    const err = await outcome
    expect(err).toBeInstanceOf(WorkerExitedError)
    expect(err).not.toBeInstanceOf(RemoteError)
  })

  it('a worker its agent stopped: the requester hears it stopped and its items fail with WorkerStoppedError (not a crash)', async () => {
    behave = async () => await new Promise(() => {})
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    const outcome = remote.process('x').catch((err: unknown) => err)
    await new Promise(resolve => setTimeout(resolve, 50))
    // as LocalWorker reports a worker that kill() ended (the agent stopping, an owner's or admin's kill)
    spawner.get(info.id)!.end({ code: 0, signal: null, stopped: true })
    expect(await remote.exited).toMatchObject({ code: 0, stopped: true })
    expect(await outcome).toBeInstanceOf(WorkerStoppedError)
    // and an item sent after it ended fails alike
    await expect(remote.process('y')).rejects.toBeInstanceOf(WorkerStoppedError)
  })

  /** `promise`, or 'hung' if it has not settled within `ms` (a dropped batch never settles its items). */
  async function within<T> (promise: Promise<T>, ms = 2000): Promise<T | 'hung'> {
    let timer: NodeJS.Timeout | undefined
    const hung = new Promise<'hung'>(resolve => { timer = setTimeout(() => { resolve('hung') }, ms) })
    try {
      return await Promise.race([promise, hung])
    } finally {
      clearTimeout(timer)
    }
  }

  it('a result JSON cannot encode (a stage returned 1n, a cycle) fails that item with ERR_NOT_SERIALIZABLE; the other results of its batch arrive', async () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    behave = async item => item === 'big' ? 1n : item === 'cycle' ? cycle : item
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    const settled = await within(Promise.allSettled(['a', 'big', 'b', 'cycle', 'c'].map(async item => await remote.process(item))))
    expect(settled).not.toBe('hung')
    const outcomes = (settled as Array<PromiseSettledResult<unknown>>).map(r => r.status === 'fulfilled' ? r.value : (r.reason as RemoteError).code)
    expect(outcomes).toEqual(['a', ERR_NOT_SERIALIZABLE, 'b', ERR_NOT_SERIALIZABLE, 'c'])
    expect(service.rejected()).toEqual([])
    // the stream carries on
    expect(await remote.process('d')).toBe('d')
    await remote.kill()
  })

  it('an item JSON cannot encode fails alone at the requester with NotSerializableError, not as a lost agent; the stream carries on', async () => {
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    const settled = await within(Promise.allSettled([remote.process('a'), remote.process(1n), remote.process('b')]))
    expect(settled).not.toBe('hung')
    const [a, big, b] = settled as Array<PromiseSettledResult<unknown>>
    expect(a).toEqual({ status: 'fulfilled', value: 'a' })
    expect(b).toEqual({ status: 'fulfilled', value: 'b' })
    expect((big as PromiseRejectedResult).reason).toBeInstanceOf(NotSerializableError)
    expect(await within(remote.exited, 200)).toBe('hung')
    expect(await remote.process('c')).toBe('c')
    await remote.kill()
  })

  const MB = 1024 * 1024
  const ONE_POINT_ONE_MB = Math.round(1.1 * MB)

  it('20 items of 1.1 MB each way (22 MB a batch, over the 16 MiB a message may carry) all arrive: both sides split their batches', async () => {
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    const items = Array.from({ length: 20 }, (_, i) => String(i % 10).repeat(ONE_POINT_ONE_MB))
    const settled = await within(Promise.allSettled(items.map(async item => await remote.process(item))), 20_000)
    expect(settled).not.toBe('hung')
    // each its own item back (compared here, not printed: 1 MB strings)
    expect((settled as Array<PromiseSettledResult<unknown>>).map((r, i) => r.status === 'fulfilled' ? r.value === items[i] : r.reason)).toEqual(Array(20).fill(true))
    expect(service.rejected()).toEqual([])
    await remote.kill()
  })

  it('small items whose results are 1.1 MB each (22 MB of results in one turn) all arrive', async () => {
    behave = async item => String(item).repeat(ONE_POINT_ONE_MB)
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    const settled = await within(Promise.allSettled(Array.from({ length: 20 }, async (_, i) => await remote.process(i % 10))), 20_000)
    expect(settled).not.toBe('hung')
    expect((settled as Array<PromiseSettledResult<unknown>>).map(r => r.status === 'fulfilled' ? (r.value as string).length : r.reason)).toEqual(Array(20).fill(ONE_POINT_ONE_MB))
    await remote.kill()
  })

  it('an item or a result over 16 MiB alone fails that item with ERR_ITEM_TOO_LARGE (not a lost agent); the others arrive, the stream carries on', async () => {
    behave = async item => item === 'grow' ? 'r'.repeat(17 * MB) : item
    const info = await spawnUnattached()
    const remote = await RemoteWorker.attach(requester.libp2p, peerIdFromString(agent.id), info)
    const settled = await within(Promise.allSettled([remote.process('a'), remote.process('i'.repeat(17 * MB)), remote.process('grow'), remote.process('b')]), 20_000)
    expect(settled).not.toBe('hung')
    const [a, big, grow, b] = settled as Array<PromiseSettledResult<unknown>>
    expect(a).toEqual({ status: 'fulfilled', value: 'a' })
    expect(b).toEqual({ status: 'fulfilled', value: 'b' })
    expect((big as PromiseRejectedResult).reason).toBeInstanceOf(ItemTooLargeError)
    expect((grow as PromiseRejectedResult).reason).toMatchObject({ name: 'ItemTooLargeError', code: ERR_ITEM_TOO_LARGE })
    expect((grow as PromiseRejectedResult).reason).toBeInstanceOf(RemoteError)
    expect(await within(remote.exited, 200)).toBe('hung')
    expect(await remote.process('c')).toBe('c')
    await remote.kill()
  })
})
