import { trustEveryone } from '../trust-stub.ts'
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Workers } from '../../../src/owner/workers.ts'
import { AgentService } from '../../../src/agent/agent-service.ts'
import { sha256 } from '../../../src/wire/module-ref.ts'
import { resolveLogger } from '../../../src/logger.ts'
import type { WorkerHandle } from '../../../src/owner/worker-handle.ts'
import { FakeNetwork, FakeSpawner, fakeMembership, member, startedModules } from './stubs.ts'

const log = resolveLogger()

/**
 * A task module a member shipped to this node (stored as `<dataDir>/tasks/modules/<sha256>.mjs`) is that
 * member's code: the owner ships it to an agent exactly as it was stored, never rebuilt on this node, where
 * its imports would pull this node's own files (its key) into the bundle the member's code then runs with.
 */
describe('Workers: a foreign (shipped) module is shipped as stored', () => {
  let base: string
  let network: FakeNetwork
  let service: AgentService | undefined
  const handles: WorkerHandle[] = []

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'gridd-foreign-'))
    network = new FakeNetwork()
  })

  afterEach(async () => {
    await Promise.allSettled(handles.splice(0).map(async h => await h.kill()))
    await service?.stop()
    await rm(base, { recursive: true, force: true })
  })

  it('a text import of the owner\'s key in a shipped task module does not inline the key', async () => {
    const ownerDataDir = join(base, 'owner')
    await mkdir(join(ownerDataDir, 'certs'), { recursive: true })
    await writeFile(join(ownerDataDir, 'certs', 'node.key'), 'OWNER-PRIVATE-KEY', { mode: 0o600 })
    const source = 'import key from \'../../certs/node.key\' with { type: \'text\' }\nexport default () => key\n'
    const stored = join(ownerDataDir, 'tasks', 'modules', `${sha256(source)}.mjs`)
    await mkdir(join(ownerDataDir, 'tasks', 'modules'), { recursive: true })
    await writeFile(stored, source, { mode: 0o640 })

    const owner = await network.peer()
    const agent = await network.peer()
    const agentDataDir = join(base, 'agent')
    service = new AgentService(agent.libp2p, new FakeSpawner(2).asSpawner(), await startedModules(agentDataDir), log, trustEveryone())
    await service.start()
    const workers = new Workers(owner.libp2p, fakeMembership(member(owner.id), [member(agent.id, { role: 'agent', load: { maxWorkers: 2 } })]), undefined, log, trustEveryone())

    handles.push(await workers.spawn({ stage: 'task', module: stored, foreign: true }))
    const cached = await readdir(join(agentDataDir, 'modules'))
    const shipped = await Promise.all(cached.map(async file => await readFile(join(agentDataDir, 'modules', file), 'utf8')))
    expect(shipped.join('\n')).not.toContain('OWNER-PRIVATE-KEY')
    expect(cached).toEqual([`${sha256(source)}.mjs`])
    expect(shipped).toEqual([source])
  })
})
