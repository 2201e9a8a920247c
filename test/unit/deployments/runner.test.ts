import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { DeploymentRunner } from '../../../src/deployments/runner.ts'
import { connectorsFor } from '../../../src/deployments/definition.ts'
import { DeploymentStore } from '../../../src/deployments/store.ts'
import { CodeStore } from '../../../src/deployments/code-store.ts'
import { DEPLOYMENTS_CHANNEL } from '../../../src/deployments/types.ts'
import { electHolder } from '../../../src/leases/election.ts'
import type { Member } from '../../../src/membership/member.ts'
import { ReplicaSet } from '../schedules/memory-channel.ts'

const log = pino({ level: process.env.DEBUG_RUNNER === '1' ? 'debug' : 'silent' })
const PEERS = ['A', 'B', 'C']
const DEFINITION = 'export default { source: () => [1, 2], stages: [{ name: "s", module: "./s.mjs" }], sink: () => () => {} }'
const STAGE = 'export default (x) => x'

interface Run { peer: string, token: number, cancelled: boolean }

describe('DeploymentRunner: one owner per deployment over replicas of the deployments channel (fake clock)', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridd-runner-'))
    // a run's start imports the connectors (ioredis) the first time: loaded here, so advance's 300 ms of real
    // time for the runs' async starts are not spent on it (a loaded machine took longer, and a test failed)
    await connectorsFor(log)
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  function grid () {
    let now = 1_000_000
    const replicas = new ReplicaSet(DEPLOYMENTS_CHANNEL, PEERS, () => now)
    const paused = new Set<string>()
    /** Members whose clock runs so far ahead that the others refuse their writes (ClockWatch), and since when. */
    const aheadSince = new Map<string, number>()
    const runs: Run[] = []
    const runners = new Map<string, DeploymentRunner>()
    const codeDirs = new Map(PEERS.map(peer => [peer, join(dir, `${peer}-${Math.random()}`)]))
    for (const peer of PEERS) {
      const store = new DeploymentStore(replicas.get(peer))
      replicas.get(peer).clockAheadForMs = () => aheadSince.has(peer) ? now - aheadSince.get(peer)! : 0
      store.advertise(peer, {})
      const members = (): Member[] => PEERS.filter(p => p !== peer).map(p => ({ id: p, state: paused.has(p) ? 'suspect' : 'alive' }) as unknown as Member)
      const pipeline = (): never => {
        const run: Run = { peer, token: store.fired('orders')?.token ?? -1, cancelled: false }
        runs.push(run)
        return { done: new Promise(() => {}), cancel: () => { run.cancelled = true }, totals: () => [] } as never
      }
      runners.set(peer, new DeploymentRunner({ self: peer, store, code: new CodeStore(replicas.get(peer), codeDirs.get(peer)!), members, pipeline, log }, { advertRefreshMs: 2000 }))
    }
    const code = new CodeStore(replicas.get('A'), dir)
    const stage = code.put(STAGE)
    new DeploymentStore(replicas.get('A')).put({ name: 'orders', hash: code.put(DEFINITION), stages: [{ name: 's', hash: stage }], params: null, version: 1, stopped: false, deployedBy: 'peer:A', deployedAt: now })
    replicas.deliver()
    return {
      runs,
      paused,
      code,
      /** The code files `peer` holds (its code dir). */
      codeFiles: async (peer: string) => (await readdir(codeDirs.get(peer)!).catch(() => [])).sort(),
      /** `peer`'s clock runs ahead from now on: it sees so itself (ClockWatch), and the others refuse its writes. */
      clockAhead: (peer: string) => { aheadSince.set(peer, now); replicas.refused.add(peer) },
      /** The keys `peer`'s replica holds (tombstones aside). */
      keys: (peer: string) => [...replicas.get(peer).entries()].map(([key]) => key),
      /** A store over `peer`'s replica: what a deploy made through that member writes. */
      store: (peer: string) => new DeploymentStore(replicas.get(peer)),
      running: () => runs.filter(r => !r.cancelled),
      /** Every unpaused runner steps every 100 ms for `ms`, gossip delivered between steps; then the runs' async starts get real time. */
      async advance (ms: number): Promise<void> {
        for (let t = 0; t < ms; t += 100) {
          now += 100
          for (const [peer, runner] of runners) if (!paused.has(peer)) runner.step(now)
          replicas.deliver([...paused])
        }
        await new Promise(resolve => setTimeout(resolve, 300))
      },
      /** One step of `peer` alone, with nothing delivered: what it does as it wakes. */
      stepOnly (peer: string, ms: number): void {
        now += ms
        runners.get(peer)!.step(now)
      }
    }
  }

  it('the elected member runs it, once; a paused owner is replaced, and cancels its run in its first step on waking', async () => {
    const g = grid()
    await g.advance(3000)
    const elected = electHolder('orders', PEERS)!
    expect(g.running().map(r => r.peer)).toEqual([elected])
    const first = g.running()[0]!
    // paused (SIGSTOP): the others see it suspect, wait its lease out, and the next elected one takes over with a higher token
    g.paused.add(elected)
    await g.advance(4000)
    await g.advance(500)
    const others = g.running().filter(r => r.peer !== elected)
    expect(others).toHaveLength(1)
    expect(others[0]!.token).toBeGreaterThan(first.token)
    expect(first.cancelled).toBe(false)
    // it wakes: the step that sees the gap drops the lease and cancels the run, before it hears any news
    g.paused.delete(elected)
    g.stepOnly(elected, 100)
    expect(first.cancelled).toBe(true)
    await g.advance(6000)
    expect(g.running()).toHaveLength(1)
  }, 20_000)

  it('two deploys at once through two members, both version 2: the owner runs the record the channel keeps, not the one it saw first', async () => {
    const g = grid()
    await g.advance(3000)
    const elected = electHolder('orders', PEERS)!
    const other = PEERS.find(p => p !== elected)!
    const base = g.store(elected).deployment('orders')!
    // the owner's own member deploys: it restarts on that record at once, before any gossip
    g.store(elected).put({ ...base, version: 2, params: { via: elected }, deployedBy: `peer:${elected}`, deployedAt: base.deployedAt + 1 })
    g.stepOnly(elected, 100)
    await new Promise(resolve => setTimeout(resolve, 300))
    const first = g.running()
    expect(first.map(r => r.peer)).toEqual([elected])
    // another member deployed version 2 too, a moment later: the channel keeps that one everywhere
    g.store(other).put({ ...base, version: 2, params: { via: other }, deployedBy: `peer:${other}`, deployedAt: base.deployedAt + 2 })
    await g.advance(1000)
    expect(g.store(elected).deployment('orders')?.params).toEqual({ via: other })
    expect(first[0]!.cancelled).toBe(true)
    expect(g.running().map(r => r.peer)).toEqual([elected])
  }, 20_000)

  it('an owner whose clock runs so far ahead that the others refuse its writes runs on until the others age its advert out, then stops, and another member runs it', async () => {
    const g = grid()
    await g.advance(3000)
    const elected = electHolder('orders', PEERS)!
    const first = g.running()[0]!
    expect(first.peer).toBe(elected)
    // its advert's refreshes are refused too: the others elect it until that ages out (four refreshes: 8 s here),
    // and it goes on running meanwhile, leaving itself out as long after
    g.clockAhead(elected)
    await g.advance(5000)
    expect(first.cancelled).toBe(false)
    expect(g.running()).toEqual([first])
    await g.advance(7000)
    expect(first.cancelled).toBe(true)
    // the new owner's run starts asynchronously (its code written out, the connectors imported): on a loaded
    // machine that took longer than advance's 300 ms of real time
    await vi.waitFor(() => { expect(g.running().map(r => r.peer)).toEqual([electHolder('orders', PEERS.filter(p => p !== elected))]) }, { timeout: 5000, interval: 50 })
  }, 20_000)

  it('a deployment removed while its owner still renews (a remove crossing a renewal): the owner cancels its run, and no record of it is left on any replica', async () => {
    const g = grid()
    await g.advance(3000)
    const elected = electHolder('orders', PEERS)!
    const other = PEERS.find(p => p !== elected)!
    const first = g.running()[0]!
    expect(g.keys(other)).toEqual(expect.arrayContaining(['d/orders', 'l/orders', 'f/orders']))
    // removed through another member; the owner renews its lease (every 400 ms) before the delete reaches it:
    // that write is newer than the delete, and would stand everywhere
    expect(g.store(other).remove('orders')).toBe(true)
    for (let i = 0; i < 6; i++) g.stepOnly(elected, 100)
    await g.advance(1000)
    expect(first.cancelled).toBe(true)
    expect(g.running()).toEqual([])
    for (const peer of PEERS) expect(g.keys(peer).filter(key => key.endsWith('/orders')), peer).toEqual([])
  }, 20_000)

  it('the advert of a runner gone for good (no member of that id, unchanged for hours) is deleted from every replica; the members\' own stay', async () => {
    const g = grid()
    await g.advance(1000)
    g.store('B').advertise('Z', { at: 1 })
    await g.advance(1000)
    expect(g.keys('A')).toContain('n/Z')
    // hours later (a member's step far apart, as after a pause): A finds Z's advert abandoned and deletes it
    g.stepOnly('A', 5 * 3_600_000)
    await g.advance(1000)
    for (const peer of PEERS) {
      expect(g.keys(peer), peer).not.toContain('n/Z')
      expect(g.keys(peer).filter(key => key.startsWith('n/')).sort(), peer).toEqual(PEERS.map(p => `n/${p}`))
    }
  }, 20_000)

  it('the owner\'s code dir keeps only the code in use: a replaced version\'s files go once its run stops, a removed deployment\'s too', async () => {
    const g = grid()
    await g.advance(3000)
    const elected = electHolder('orders', PEERS)!
    const v1 = g.store(elected).deployment('orders')!
    expect(await g.codeFiles(elected)).toEqual([`${v1.hash}.mjs`, `${v1.stages[0]!.hash}.mjs`].sort())
    // an edit redeployed: new code for the definition and the stage
    const v2 = { ...v1, version: 2, hash: g.code.put(`${DEFINITION}\n// v2`), stages: [{ name: 's', hash: g.code.put(`${STAGE}\n// v2`) }], deployedAt: v1.deployedAt + 1 }
    g.store(elected).put(v2)
    await g.advance(1000)
    expect(g.running().map(r => r.peer)).toEqual([elected])
    expect(await g.codeFiles(elected)).toEqual([`${v2.hash}.mjs`, `${v2.stages[0]!.hash}.mjs`].sort())
    g.store(elected).remove('orders')
    await g.advance(1000)
    expect(g.running()).toEqual([])
    expect(await g.codeFiles(elected)).toEqual([])
  }, 20_000)

  it('an owner cleaning up after a removal never deletes a redeploy under the same name that has not reached it yet', async () => {
    const g = grid()
    await g.advance(3000)
    const elected = electHolder('orders', PEERS)!
    const other = PEERS.find(p => p !== elected)!
    const base = g.store(other).deployment('orders')!
    g.store(other).remove('orders')
    for (let i = 0; i < 6; i++) g.stepOnly(elected, 100)
    // the removal reaches the owner; a redeploy is made before the owner's next step, and reaches it only after
    await g.advance(100)
    g.store(other).put({ ...base, version: 1, deployedAt: base.deployedAt + 1 })
    g.stepOnly(elected, 100)
    await g.advance(2000)
    for (const peer of PEERS) expect(g.store(peer).deployment('orders')?.deployedAt, peer).toBe(base.deployedAt + 1)
    // the redeploy's run starts for real (its code written, its definition imported): more than advance's
    // 300 ms on a loaded machine (the full suite failed here once, every check before passing)
    await vi.waitFor(() => { expect(g.running()).toHaveLength(1) }, { timeout: 10_000 })
  }, 20_000)
})
