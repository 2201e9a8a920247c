import type { Libp2p } from '@libp2p/interface'
import { Spawner } from './spawner.ts'
import { AgentService } from './agent-service.ts'
import type { AgentConfig } from './config.ts'
import type { Membership } from '../membership/membership.ts'
import type { Logger } from '../logger.ts'

/**
 * What `--agent` adds to a node: the spawner and its network service, with
 * capacity and live worker load riding on the membership heartbeat (and
 * gossiped at once whenever a worker starts or exits).
 */
export class AgentRole {
  readonly spawner: Spawner
  private readonly service: AgentService
  private readonly membership: Membership
  private readonly config: AgentConfig

  constructor (libp2p: Libp2p, membership: Membership, config: AgentConfig, dataDir: string, log: Logger) {
    this.membership = membership
    this.config = config
    this.spawner = new Spawner(config, log, () => { this.report() })
    this.service = new AgentService(libp2p, this.spawner, dataDir, log)
  }

  async start (): Promise<void> {
    this.membership.updateSelf({
      role: 'agent',
      capacity: { cpu: this.config.cpu, memoryMb: this.config.memoryMb },
      weight: this.config.weight,
      strategy: this.config.strategy
    })
    this.report()
    await this.service.start()
  }

  async stop (): Promise<void> {
    await this.service.stop()
    await this.spawner.stop()
  }

  private report (): void {
    const used = this.spawner.usage()
    const load = this.membership.selfMember().load
    const stages: Record<string, number> = {}
    for (const w of this.spawner.list()) stages[w.stage] = (stages[w.stage] ?? 0) + 1
    this.membership.updateSelf({ load: { ...load, workers: used.workers, maxWorkers: this.config.workers, slotsUsed: used.cpu, memoryUsedMb: used.memoryMb, stages } })
  }
}
