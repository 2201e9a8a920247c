import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AgentService } from '../../../src/agent/agent-service.ts'
import { resolveLogger } from '../../../src/logger.ts'
import { trustEveryone } from '../trust-stub.ts'
import { FakeNetwork, FakeSpawner, startedModules } from '../owner/stubs.ts'
import type { FakePeer, StreamPair } from '../owner/stubs.ts'

export interface AgentHarness {
  requester: FakePeer
  agent: FakePeer
  spawner: FakeSpawner
  service: AgentService
  /** Kills the workers, stops the service, removes the data dir. */
  close: () => Promise<void>
}

/**
 * The agent's service (real) on a stubbed spawner of 4 workers answering with `answer`, and an in-memory
 * libp2p (`pair`: how its streams are made); the requester speaks the wire by hand.
 */
export async function agentHarness (answer: (item: unknown) => Promise<unknown>, init: { pair?: StreamPair, options?: ConstructorParameters<typeof AgentService>[5] } = {}): Promise<AgentHarness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gridd-agent-service-'))
  const network = new FakeNetwork(init.pair)
  const requester = await network.peer()
  const agent = await network.peer()
  const spawner = new FakeSpawner(4, answer)
  const service = new AgentService(agent.libp2p, spawner.asSpawner(), await startedModules(dataDir), resolveLogger(), trustEveryone(), init.options)
  await service.start()
  const close = async (): Promise<void> => {
    for (const worker of spawner.workers.values()) await worker.kill()
    await service.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
  return { requester, agent, spawner, service, close }
}
