import { trustEveryone } from '../trust-stub.ts'
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { fileURLToPath } from 'node:url'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Workers } from '../../../src/owner/workers.ts'
import { AgentService } from '../../../src/agent/agent-service.ts'
import { ConfigError, GridError, NoCapacityError, RateLimitedError, RemoteError, ERR_CONFIG, ERR_NO_CAPACITY, ERR_NOT_SERIALIZABLE, ERR_REMOTE } from '../../../src/errors.ts'
import { resolveLogger } from '../../../src/logger.ts'
import type { WorkerHandle } from '../../../src/owner/worker-handle.ts'
import { FakeNetwork, FakeSpawner, fakeMembership, member, startedModules } from './stubs.ts'
import type { FakePeer } from './stubs.ts'
import type { RoleCheck } from '../../../src/trust/credentials.ts'
import { SPAWN_PROTOCOL } from '../../../src/wire/spawn-protocol.ts'

const MODULE = fileURLToPath(new URL('../../fixtures/stages/noop.mjs', import.meta.url))
const log = resolveLogger()

/**
 * An owner's Workers against two agents A and B (real AgentService, stubbed
 * spawner) over an in-memory libp2p. Membership is a fixed list whose load
 * never changes: whatever spreads spawns here is the reservations, not gossip.
 */
describe('Workers: spawn reservations and refusals (stubbed components)', () => {
  let dataDir: string
  let network: FakeNetwork
  let owner: FakePeer
  let a: FakePeer
  let b: FakePeer
  const services: AgentService[] = []
  const handles: WorkerHandle[] = []

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gridd-workers-'))
    network = new FakeNetwork()
    owner = await network.peer()
    a = await network.peer()
    b = await network.peer()
  })

  afterEach(async () => {
    await Promise.allSettled(handles.splice(0).map(async h => await h.kill()))
    await Promise.allSettled(services.splice(0).map(async s => { await s.stop() }))
    await rm(dataDir, { recursive: true, force: true })
  })

  /** Starts the agent service of `peer` on `spawner` and returns the owner's Workers seeing A and B. */
  async function grid (spawners: { a: FakeSpawner, b: FakeSpawner }, weights = { a: 1, b: 1 }, roles: RoleCheck = trustEveryone()): Promise<Workers> {
    for (const [peer, spawner] of [[a, spawners.a], [b, spawners.b]] as const) {
      const service = new AgentService(peer.libp2p, spawner.asSpawner(), await startedModules(dataDir), log, trustEveryone())
      await service.start()
      services.push(service)
    }
    const agents = [
      member(a.id, { role: 'agent', weight: weights.a, load: { maxWorkers: 2 } }),
      member(b.id, { role: 'agent', weight: weights.b, load: { maxWorkers: 2 } })
    ]
    return new Workers(owner.libp2p, fakeMembership(member(owner.id), agents), undefined, log, roles)
  }

  const spawn = async (workers: Workers): Promise<WorkerHandle> => {
    const handle = await workers.spawn({ stage: 'noop', module: MODULE })
    handles.push(handle)
    return handle
  }

  it('concurrent spawns spread over the agents with no refusal: each counts against its agent while in flight (no stampede)', async () => {
    const spawners = { a: new FakeSpawner(2), b: new FakeSpawner(2) }
    const workers = await grid(spawners)
    const placed = await Promise.all([1, 2, 3, 4].map(async () => await spawn(workers)))
    expect(placed.filter(h => h.agentId === a.id)).toHaveLength(2)
    expect(placed.filter(h => h.agentId === b.id)).toHaveLength(2)
    // without reservations all four would rank the same agent first from the same load: two refusals
    expect(spawners.a.refusals + spawners.b.refusals).toBe(0)
  })

  it('a spawn in flight holds its reservation; the worker exiting releases it', async () => {
    const workers = await grid({ a: new FakeSpawner(2), b: new FakeSpawner(2) }, { a: 2, b: 1 })
    expect(workers.capacityFor()).toBe(4)
    const open = a.hold()
    const pending = spawn(workers)
    // the dial to A waits: the spawn is in flight and A already counts it
    await expect.poll(() => workers.capacityFor(), { timeout: 5000 }).toBe(3)
    open()
    const handle = await pending
    expect(handle.agentId).toBe(a.id)
    expect(workers.capacityFor()).toBe(3)
    await handle.kill()
    await handle.exited
    expect(workers.capacityFor()).toBe(4)
  })

  it('a spawn cancelled while the agent forks its worker kills that worker, instead of leaving it to the attach timeout', async () => {
    const spawners = { a: new FakeSpawner(2), b: new FakeSpawner(2) }
    const workers = await grid(spawners, { a: 2, b: 1 })
    const controller = new AbortController()
    const fork = spawners.a.spawn.bind(spawners.a)
    // the caller gives up just as the agent forks: the spawn request is sent, its reply not back yet
    spawners.a.spawn = request => {
      const worker = fork(request)
      controller.abort(new Error('run cancelled'))
      return worker
    }
    const err = await workers.spawn({ stage: 'noop', module: MODULE }, { signal: controller.signal }).catch((e: unknown) => e)
    expect(err).toMatchObject({ message: 'run cancelled' })
    // gone when the spawn has settled (the agent's attach timeout is 30 s)
    expect(spawners.a.workers.size).toBe(0)
    expect(workers.list()).toEqual([])
    expect(workers.capacityFor()).toBe(4)
  })

  it('an agent that refuses (full meanwhile) passes the spawn to the next candidate and keeps no reservation', async () => {
    // A gossips room for 2 but is full already (another requester won the race)
    const spawners = { a: new FakeSpawner(0), b: new FakeSpawner(2) }
    const workers = await grid(spawners, { a: 2, b: 1 })
    const handle = await spawn(workers)
    expect(handle.agentId).toBe(b.id)
    expect(spawners.a.refusals).toBe(1)
    // A is free again in the requester's eyes (2), B holds the new worker's reservation (1)
    expect(workers.capacityFor()).toBe(3)
  })

  it('when every agent refuses: NoCapacityError lists what each lacked, as the agent said it (no text parsed)', async () => {
    const workers = await grid({ a: new FakeSpawner(0), b: new FakeSpawner(0) })
    const err = await workers.spawn({ stage: 'noop', module: MODULE }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NoCapacityError)
    expect((err as NoCapacityError).code).toBe(ERR_NO_CAPACITY)
    expect((err as NoCapacityError).shortfalls).toEqual(expect.arrayContaining([
      { agentId: a.id, lacks: ['workers: 0/0 in use'] },
      { agentId: b.id, lacks: ['workers: 0/0 in use'] }
    ]))
    expect(workers.capacityFor()).toBe(4)
  })

  it('a misspelt resource key (cpus) is refused naming it, not placed as one slot', async () => {
    const workers = await grid({ a: new FakeSpawner(2), b: new FakeSpawner(2) })
    await expect(workers.spawn({ stage: 'noop', module: MODULE, resources: { cpus: 4 } as never })).rejects.toMatchObject({ code: ERR_CONFIG, option: 'resources.cpus' })
  })

  it('an agent answering ERR_RATE_LIMITED (reading too many of this node\'s spawn requests at once) passes the spawn to the next agent, not a failed placement', async () => {
    const busy = new FakeSpawner(2)
    busy.spawn = () => { throw new RateLimitedError(1000) }
    const spawners = { a: busy, b: new FakeSpawner(2) }
    const workers = await grid(spawners, { a: 2, b: 1 })
    expect((await spawn(workers)).agentId).toBe(b.id)
  })

  it('an agent failing for another reason ends the spawn with its error (a GridError with its code), not the next agent', async () => {
    const broken = new FakeSpawner(2)
    broken.spawn = () => { throw new Error('disk on fire') }
    const spawners = { a: broken, b: new FakeSpawner(2) }
    const workers = await grid(spawners, { a: 2, b: 1 })
    const err = await workers.spawn({ stage: 'noop', module: MODULE }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RemoteError)
    expect(err).toMatchObject({ code: ERR_REMOTE, message: 'disk on fire' })
    expect(spawners.b.workers.size).toBe(0)
    expect(workers.capacityFor()).toBe(4)
  })

  it('an agent this owner cannot dial: the worker goes to the next agent, and the unreachable one is tried last from then on', async () => {
    const spawners = { a: new FakeSpawner(2), b: new FakeSpawner(2) }
    // a ranks first by its weight; the rest of the grid may still reach it (alive in membership), this owner cannot
    const workers = await grid(spawners, { a: 2, b: 1 })
    const reconnect = a.cutOff()
    const first = await spawn(workers)
    expect(first.agentId).toBe(b.id)
    // tried last now: the next spawns do not wait on its dial while b has room, and take it once b is full
    const second = await spawn(workers)
    expect(second.agentId).toBe(b.id)
    const third = await spawn(workers).catch((e: unknown) => e)
    expect(third).toBeInstanceOf(NoCapacityError)
    expect((third as NoCapacityError).shortfalls).toContainEqual({ agentId: a.id, lacks: [expect.stringContaining(`could not reach agent ${a.id}`)] })
    reconnect()
    const fourth = await spawn(workers)
    expect(fourth.agentId).toBe(a.id)
    expect(spawners.a.workers.size).toBe(1)
  })

  it('an agent known only from gossip (no certificate seen: it may not exist) is tried after the agents this owner has connected to', async () => {
    const spawners = { a: new FakeSpawner(2), b: new FakeSpawner(2) }
    // a ranks first by its weight, but this owner never saw its certificate: until a dial to it succeeds, it has none
    const everyone = trustEveryone()
    let reachedA = false
    const hearsayA: RoleCheck = { ...everyone, get: peer => peer === a.id && !reachedA ? undefined : everyone.get(peer) }
    const workers = await grid(spawners, { a: 2, b: 1 }, hearsayA)
    // a dial to it would hang (an address that drops packets): the spawn must not wait on it while b has room
    const release = a.hold()
    const first = await Promise.race([spawn(workers), new Promise<string>(resolve => setTimeout(() => { resolve('waited on the hearsay agent') }, 2000))])
    expect(typeof first === 'string' ? first : first.agentId).toBe(b.id)
    await spawn(workers)
    // b full: now the hearsay agent is tried, and takes the worker
    release()
    reachedA = true
    expect((await spawn(workers)).agentId).toBe(a.id)
  })

  it('an agent that goes away in the middle of a spawn (its stream cut before any answer): the worker goes to the next agent, not a failed spawn', async () => {
    const spawners = { a: new FakeSpawner(2), b: new FakeSpawner(2) }
    const workers = await grid(spawners, { a: 2, b: 1 })
    // a ranks first; its spawn handler now dies with the request in hand
    await a.libp2p.unhandle(SPAWN_PROTOCOL)
    await a.libp2p.handle(SPAWN_PROTOCOL, (stream) => { stream.abort(new Error('the agent process died')) })
    const first = await spawn(workers)
    expect(first.agentId).toBe(b.id)
    expect(spawners.a.workers.size).toBe(0)
  })

  it('an undefined item crosses as such; one JSON has no text for (a function, a symbol) fails alone with ERR_NOT_SERIALIZABLE; the worker stream and the worker stay up', async () => {
    const workers = await grid({ a: new FakeSpawner(2), b: new FakeSpawner(2) }, { a: 2, b: 1 })
    const handle = await spawn(workers)
    // {"n":0} without its item broke the agent's schema: it closed the stream and killed the worker, so the
    // item failed as a lost agent's (AgentLostError), which a stage runs again without using an attempt: forever
    expect(await handle.process(undefined)).toBeUndefined()
    for (const item of [() => 1, Symbol('s')]) {
      const err = await handle.process(item).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: ERR_NOT_SERIALIZABLE })
    }
    expect(await handle.process({ a: 1 })).toEqual({ a: 1 })
    expect(workers.list()).toHaveLength(1)
  })

  it('a GridError thrown by a remote worker arrives as a GridError with the same code, name and stack', async () => {
    const thrown = new ConfigError('threshold', 'must be positive')
    const spawners = { a: new FakeSpawner(2, async () => { throw thrown }), b: new FakeSpawner(2) }
    const workers = await grid(spawners, { a: 2, b: 1 })
    const handle = await spawn(workers)
    const err = await handle.process(1).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GridError)
    expect(err).toMatchObject({ code: ERR_CONFIG, name: 'ConfigError', message: thrown.message, stack: thrown.stack })
  })
})
