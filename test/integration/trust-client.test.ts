import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { randomUUID } from 'node:crypto'
import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GridNode } from '../../src/node.ts'
import type { WorkerHandle } from '../../src/owner/worker-handle.ts'
import { sha256 } from '../../src/wire/module-ref.ts'
import { SPAWN_PROTOCOL, WORKER_PROTOCOL } from '../../src/wire/spawn-protocol.ts'
import { CLIENT_PROTOCOL, SYNC_PROTOCOL as CHANNEL_SYNC_PROTOCOL, syncAnswerSchema } from '../../src/channels/schema.ts'
import { CONTROL_PROTOCOL } from '../../src/control/control.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { PLAIN_STAGE as PLAIN, runDoubling } from './helpers/doubling.ts'
import { RawPeer, addressOf, expectForbidden } from './helpers/raw-peer.ts'
import { requestJson } from '../../src/transport/json-stream.ts'
import { SYNC_PROTOCOL as MEMBER_SYNC_PROTOCOL } from '../../src/membership/constants.ts'
import { syncMessageSchema } from '../../src/membership/schema.ts'
import { cleanup } from './helpers/cleanup.ts'

const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']

// the certificates `grid certs init` makes: node (member, agent), client (client), admin (admin)
describe('the client certificate reads, and may do nothing else', () => {
  let grid: GridFixture
  let dataDir: string
  let agent: GridProcess
  let owner: GridNode
  let client: RawPeer
  let worker: WorkerHandle

  const cli = async (args: string[], timeoutMs?: number) => await runGrid([...args, '--certs', grid.dir], { timeoutMs })
  const status = async () => await grid.status(agent)

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    dataDir = await mkdtemp(join(tmpdir(), 'gridd-trust-data-'))
    agent = await grid.start('n1', [...AGENT, '--data-dir', dataDir])
    owner = await grid.member('n2', agent, 1)
    client = await RawPeer.start(grid.dir, 'client')
    worker = await owner.workers.spawn({ stage: 'double', module: PLAIN })
  }, 60_000)

  afterAll(async () => {
    await cleanup(
      async () => await client?.stop(),
      async () => await grid?.close(),
      async () => { if (dataDir != null) await rm(dataDir, { recursive: true, force: true }) }
    )
  })

  it('cannot spawn, nor ship code: both refused before the agent looks at the module, nothing cached', async () => {
    // code only this client has: the agent can neither find it on disk nor in its cache
    const source = `export default () => ${JSON.stringify(`client code ${randomUUID()}`)}\n`
    const module = { path: '/elsewhere/evil.mjs', sha256: sha256(source) }
    const request = { op: 'spawn', stage: 'evil', resources: { cpu: 1, memoryMb: 0 } } as const
    await expectForbidden(client.spawnProtocol(agent, { ...request, module }))
    await expectForbidden(client.spawnProtocol(agent, { ...request, module: { ...module, source } }))
    expect(agent.lines.filter(l => l.msg === 'spawned for a remote requester' && l.requester === client.peerId)).toEqual([])
    // the shipped source was never written to the agent's module cache
    await expect(access(join(dataDir, 'modules', `${module.sha256}.mjs`))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('cannot list, kill or attach to a member\'s worker; the worker keeps working for its owner', async () => {
    expect(worker.agentId).toBe(agent.peerId)
    await expectForbidden(client.spawnProtocol(agent, { op: 'list' }))
    await expectForbidden(client.spawnProtocol(agent, { op: 'kill', id: worker.id, graceful: false }))
    await expectForbidden(client.attach(agent, worker.id))
    expect(await worker.process(21)).toBe(42)
  })

  it('cannot change weight or strategy (`grid weight|strategy --name client`); the admin certificate, their default, can', async () => {
    const before = (await status()).self
    for (const args of [['weight', '7'], ['strategy', 'vertical'], ['weight', '9']]) {
      const res = await cli([...args, '--node', agent.address, '--name', 'client'])
      expect(res.code, res.stderr).toBe(1)
      expect(res.stderr).toMatch(/the node refused: ForbiddenError \(ERR_FORBIDDEN\): .*"client", roles client\) may not use \/gridd\/control\/1\.0\.0: it needs the admin role/)
    }
    expect((await status()).self).toMatchObject({ weight: before.weight, strategy: before.strategy })

    const weight = await cli(['weight', '3', '--node', agent.address])
    expect(weight.code, weight.stderr).toBe(0)
    expect(weight.stdout).toMatch(/weight 3, strategy/)
    const strategy = await cli(['strategy', 'vertical', '--node', agent.address])
    expect(strategy.code, strategy.stderr).toBe(0)
    expect((await status()).self).toMatchObject({ weight: 3, strategy: 'vertical' })
    // gossiped at once: the owner sees it too
    await eventually(() => owner.members().find(m => m.id === agent.peerId)?.weight === 3 ? true : undefined)
  })

  it('cannot write a channel (`grid channel set|del --name client`); it reads, and the node certificate (their default) writes', async () => {
    const set = await cli(['channel', 'set', 'cfg', 'k', '"from-client"', '--peer', agent.address, '--name', 'client'])
    expect(set.code, set.stderr).toBe(1)
    expect(set.stderr).toMatch(/ERR_FORBIDDEN/)
    expect((await cli(['channel', 'set', 'cfg', 'k', '"from-node"', '--peer', agent.address])).code).toBe(0)
    const del = await cli(['channel', 'del', 'cfg', 'k', '--peer', agent.address, '--name', 'client'])
    expect(del.code, del.stderr).toBe(1)
    expect(del.stderr).toMatch(/ERR_FORBIDDEN/)
    // read with the client certificate (the default of get): the member's write stands
    const get = await cli(['channel', 'get', 'cfg', 'k', '--json', '--peer', agent.address])
    expect(get.code, get.stderr).toBe(0)
    expect(JSON.parse(get.stdout)).toBe('from-node')
  })

  it('cannot pull the member table or a channel through the members\' sync protocols', async () => {
    await expectForbidden(requestJson(client.libp2p, addressOf(agent), MEMBER_SYNC_PROTOCOL, { v: 1, members: [] }, syncMessageSchema, { signal: AbortSignal.timeout(5000) }))
    await expectForbidden(requestJson(client.libp2p, addressOf(agent), CHANNEL_SYNC_PROTOCOL, { v: 2, channel: 'cfg', digest: 'none' }, syncAnswerSchema, { signal: AbortSignal.timeout(5000) }))
  })

  it('cannot start an agent, nor join as a node: `grid node` exits 2 and says how to issue a certificate', async () => {
    const asAgent = await cli(['node', '--agent', '--name', 'client', '--host', '127.0.0.1', '--port', '0'], 20_000)
    expect(asAgent.code, asAgent.stderr).toBe(2)
    expect(asAgent.stderr).toMatch(/certificate \(client\) has roles client; to run an agent \(--agent\) it needs the agent role: issue one with `grid certs issue <name> --role member,agent`/)
    const asNode = await cli(['node', '--name', 'client', '--host', '127.0.0.1', '--port', '0'], 20_000)
    expect(asNode.code, asNode.stderr).toBe(2)
    expect(asNode.stderr).toMatch(/needs the member role: issue one with `grid certs issue <name> --role member`/)
  })

  it('through all of it the node kept serving: status answers and a pipeline runs', async () => {
    // status is for every role: the client certificate (its default) and the admin one alike
    for (const name of ['client', 'admin']) {
      const res = await cli(['status', '--peer', agent.address, '--json', '--name', name])
      expect(res.code, res.stderr).toBe(0)
      expect((JSON.parse(res.stdout) as { self: { id: string } }).self.id).toBe(agent.peerId)
    }
    await runDoubling(owner, 'after-refusals', 500, 2)
    expect(agent.proc.exitCode).toBeNull()
  }, 60_000)

  it('each refusal was logged once per peer and protocol, naming both, not once per request', async () => {
    const expected = [CONTROL_PROTOCOL, SPAWN_PROTOCOL, WORKER_PROTOCOL, `${CLIENT_PROTOCOL} set`, `${CLIENT_PROTOCOL} del`, MEMBER_SYNC_PROTOCOL, CHANNEL_SYNC_PROTOCOL]
    const logged = () => agent.lines.filter(l => l.component === 'trust' && l.peer === client.peerId)
    // the agent's log arrives on its stdout, a moment after each refusal
    await eventually(() => logged().length >= expected.length ? true : undefined, 5000, 50)
    const refusals = logged()
    // refused above: 4 spawn-protocol requests (spawn twice, list, kill), 3 control requests, a channel set and a del, an attach, 2 syncs
    expect(refusals.map(l => l.protocol).sort()).toEqual([...expected].sort())
    for (const line of refusals) {
      expect(line.level).toBe(40)
      expect(line.msg).toMatch(new RegExp(`^peer ${client.peerId} \\("client", roles client\\) may not use `))
    }
  })
})
