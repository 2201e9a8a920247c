import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import type { GridNode } from '../../src/node.ts'
import type { WorkerHandle } from '../../src/owner/worker-handle.ts'
import { RemoteWorker } from '../../src/owner/remote-worker.ts'
import { readModule } from '../../src/owner/module-source.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { PLAIN_STAGE as PLAIN } from './helpers/doubling.ts'
import { RawPeer, expectForbidden } from './helpers/raw-peer.ts'
import { cleanup } from './helpers/cleanup.ts'

// two owners share one agent: each sees and touches only the workers it spawned; an admin sees and kills all
describe('a worker belongs to the peer that spawned it', () => {
  let grid: GridFixture
  let agent: GridProcess
  let ownerA: GridNode
  let memberB: RawPeer
  let admin: RawPeer
  let workerA: WorkerHandle
  let workerB: RemoteWorker

  beforeAll(async () => {
    grid = await GridFixture.create(3)
    agent = await grid.start('n1', ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096'])
    ownerA = await grid.member('n2', agent, 1)
    memberB = await RawPeer.start(grid.dir, 'n3')
    admin = await RawPeer.start(grid.dir, 'admin')
    workerA = await ownerA.workers.spawn({ stage: 'double', module: PLAIN })
    // B spawns by hand over the spawn protocol (shipping the module), and attaches as its spawner
    const reply = await memberB.spawnProtocol(agent, { op: 'spawn', stage: 'double', module: await readModule(PLAIN, 'double'), resources: { cpu: 1, memoryMb: 0 } })
    if (!reply.ok || reply.worker == null) throw new Error(`B's spawn failed: ${JSON.stringify(reply)}`)
    workerB = await RemoteWorker.attach(memberB.libp2p, peerIdFromString(agent.peerId), reply.worker)
  }, 60_000)

  afterAll(async () => {
    await cleanup(
      async () => await admin?.stop(),
      async () => await memberB?.stop(),
      async () => await grid?.close()
    )
  })

  it('both workers run on the one agent, each for its own spawner', async () => {
    expect(workerA.agentId).toBe(agent.peerId)
    expect(workerA.id).not.toBe(workerB.id)
    expect(await workerA.process(1)).toBe(2)
    expect(await workerB.process(2)).toBe(4)
  })

  it('a member lists only its own workers', async () => {
    const listed = await memberB.spawnProtocol(agent, { op: 'list' })
    expect(listed.ok && listed.workers?.map(w => w.id)).toEqual([workerB.id])
  })

  it('a member can neither kill nor attach to another member\'s worker, which keeps working for its owner', async () => {
    await expectForbidden(memberB.spawnProtocol(agent, { op: 'kill', id: workerA.id, graceful: false }), /\/gridd\/spawn\/1\.0\.0 kill of a worker another peer spawned: it needs the admin role/)
    await expectForbidden(memberB.attach(agent, workerA.id), /\/gridd\/worker\/1\.0\.0 to attach to a worker another peer spawned$/)
    expect(await workerA.process(21)).toBe(42)
    expect(await workerB.process(5)).toBe(10)
  })

  it('an admin lists every worker and kills another peer\'s; it may not attach (the worker stream is its spawner\'s)', async () => {
    const listed = await admin.spawnProtocol(agent, { op: 'list' })
    expect(listed.ok && listed.workers?.map(w => w.id).sort()).toEqual([workerA.id, workerB.id].sort())
    await expectForbidden(admin.attach(agent, workerA.id), /"admin", roles admin\) may not use \/gridd\/worker\/1\.0\.0: it needs the member role/)
    const killed = await admin.spawnProtocol(agent, { op: 'kill', id: workerA.id, graceful: false })
    expect(killed).toMatchObject({ ok: true, exit: { signal: 'SIGKILL' } })
    // the owner's handle learns of it on its worker stream
    expect(await workerA.exited).toMatchObject({ signal: 'SIGKILL' })
    await expect(workerA.process(1)).rejects.toThrow()
    // B's worker is untouched
    expect(await workerB.process(6)).toBe(12)
    const after = await admin.spawnProtocol(agent, { op: 'list' })
    expect(after.ok && after.workers?.map(w => w.id)).toEqual([workerB.id])
  })
})
