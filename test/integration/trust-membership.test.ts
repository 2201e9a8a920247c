import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { GridNode } from '../../src/node.ts'
import { issueIntoDir, readCaPair, writePair } from '../../src/certs/files.ts'
import { MAX_CPU_SLOTS, MAX_MEMORY_MB, MAX_WEIGHT, MAX_WORKERS } from '../../src/checks/values.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess, LogLine } from './helpers/grid-process.ts'
import { eventually, runGrid } from './helpers/grid-process.ts'
import { BoastingPeer } from './helpers/boasting-peer.ts'
import { runDoubling } from './helpers/doubling.ts'
import { issueRolelessCertificate } from './helpers/foreign-cert.ts'
import { rawMtlsDial } from './helpers/raw-dial.ts'
import { cleanup } from './helpers/cleanup.ts'


/** What would win every placement: the agent role, the largest capacity and weight a heartbeat may carry. */
const BIGGEST_AGENT = {
  role: 'agent' as const,
  capacity: { cpu: MAX_CPU_SLOTS, memoryMb: MAX_MEMORY_MB },
  load: { cpu: 0, memoryFreeMb: MAX_MEMORY_MB, workers: 0, maxWorkers: MAX_WORKERS, slotsUsed: 0, memoryUsedMb: 0, stages: {} },
  weight: MAX_WEIGHT
}

describe('membership trusts the certificate, not what a peer says of itself', () => {
  let grid: GridFixture
  let agent: GridProcess
  let owner: GridNode
  /** A member-only certificate claiming to be the biggest agent. */
  let boaster: BoastingPeer
  /**
   * A client certificate gossiping heartbeats and channel writes as if it were a member: one of its
   * own, not `client` (the CLI's), whose connections under the same peer id would come and go beside it.
   */
  let intruder: BoastingPeer

  beforeAll(async () => {
    grid = await GridFixture.create(2)
    await issueIntoDir(grid.dir, 'boaster', { roles: ['member'] })
    await issueIntoDir(grid.dir, 'intruder', { roles: ['client'] })
    agent = await grid.start('n1', ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096'])
    owner = await grid.member('n2', agent, 1)
    boaster = await BoastingPeer.start(grid.dir, 'boaster', BIGGEST_AGENT, [agent])
    intruder = await BoastingPeer.start(grid.dir, 'intruder', {}, [agent])
  }, 60_000)

  afterAll(async () => {
    await cleanup(
      async () => await intruder?.stop(),
      async () => await boaster?.stop(),
      async () => await grid?.close()
    )
  })

  it('an agent claim without the agent role in the certificate: listed as a member (grid status too), never placed on', async () => {
    const listed = await eventually(async () => (await grid.status(agent)).members.find(m => m.id === boaster.peerId && m.state === 'alive'))
    expect(listed).toMatchObject({ role: 'member', weight: MAX_WEIGHT })
    // the owner heard it through the agent's gossip, and judges it by the certificate once it has dialled it
    // (mesh repair connects to every member within two heartbeats; before that, a spawn would dial first)
    await eventually(() => owner.members().find(m => m.id === boaster.peerId && m.state === 'alive' && m.role === 'member'))
    expect(owner.members().find(m => m.id === agent.peerId)?.role).toBe('agent')

    await runDoubling(owner, 'not-on-the-boaster', 300, 3)
    // every worker ran on the certified agent; the boaster was never asked to spawn anything
    expect(agent.lines.filter(l => l.msg === 'spawned for a remote requester' && l.stage === 'double').length).toBeGreaterThanOrEqual(3)
    expect(boaster.spawnRequests).toBe(0)
    // the text view says so as well
    const text = await runGrid(['status', '--peer', agent.address, '--certs', grid.dir])
    expect(text.stdout.split('\n').find(l => l.includes(boaster.peerId))).toMatch(/\bmember\b/)
  }, 60_000)

  it('gossip from a client certificate is dropped: it stays connected but never becomes a member', async () => {
    expect(intruder.connectedTo(agent)).toBe(true)
    // the boaster, gossiping the same way since the same moment, is a member by now (previous test):
    // over 15 more heartbeat periods (3 s at 200 ms), neither the agent nor the owner ever lists the intruder
    const until = Date.now() + 3000
    while (Date.now() < until) {
      expect((await grid.status(agent)).members.map(m => m.id)).not.toContain(intruder.peerId)
      expect(owner.members().map(m => m.id)).not.toContain(intruder.peerId)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    expect(intruder.connectedTo(agent)).toBe(true)
    expect((await grid.status(agent)).members.map(m => m.id)).toContain(boaster.peerId)
  })

  it('channel gossip from a client certificate is dropped; the same write from a member lands', async () => {
    const cli = async (...args: string[]) => await runGrid(['channel', ...args, '--peer', agent.address, '--certs', grid.dir, '--json'])
    // the agent opens the channel (the client certificate may read)
    expect((await cli('list', 'cfg')).code).toBe(0)
    const listed = async (): Promise<Record<string, unknown>> => JSON.parse((await cli('list', 'cfg')).stdout) as Record<string, unknown>
    await eventually(async () => {
      await boaster.write('cfg', 'from-member', 1)
      return 'from-member' in await listed() ? true : undefined
    })
    // the intruder writes the same way for 3 s (15 writes): none lands
    const until = Date.now() + 3000
    while (Date.now() < until) {
      await intruder.write('cfg', 'from-client', 1)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(Object.keys(await listed())).toEqual(['from-member'])
  })

  it('a certificate with no role is refused at the handshake (no-role), told to reissue it; a node will not start with one', async () => {
    const pair = await issueRolelessCertificate(await readCaPair(grid.dir), 'old')
    await writePair(grid.dir, 'old', pair, false)
    const since = agent.mark()
    const { keptOpen } = await rawMtlsDial(agent.port, { ca: await readFile(join(grid.dir, 'ca.crt'), 'utf8'), ...pair })
    expect(keptOpen).toBe(false)
    const noRole = (l: LogLine): boolean => l.reason === 'no-role' && /refused inbound/.test(l.msg)
    const line = await agent.waitFor(noRole, 10_000, since)
    expect(line.msg).toMatch(/certificate \(old\) holds no gridd role .*reissue it with `grid certs issue old --role member,agent`/)
    // the CLI with it cannot even get a status
    const status = await runGrid(['status', '--peer', agent.address, '--certs', grid.dir, '--name', 'old', '--timeout', '5000'])
    expect(status.code).not.toBe(0)
    const node = await runGrid(['node', '--certs', grid.dir, '--name', 'old', '--host', '127.0.0.1', '--port', '0'], { timeoutMs: 20_000 })
    expect(node.code, node.stderr).toBe(2)
    expect(node.stderr).toMatch(/holds no gridd role \(made before roles existed\?\): reissue it with `grid certs issue old --role member --force`/)
    expect(agent.proc.exitCode).toBeNull()
  })
})
