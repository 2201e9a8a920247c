import type { Libp2p } from '@libp2p/interface'
import { TasksService } from './tasks/service.ts'
import type { TasksServiceDeps } from './tasks/service.ts'
import { ownerForwarder } from './tasks/routing.ts'
import { prepareDataDir } from './data-dir.ts'
import type { Logger } from './logger.ts'

export interface NodeTasksServiceParts extends Omit<TasksServiceDeps, 'prepareDataDir' | 'forward'> {
  /** The node is an agent: it prepared the data dir at its start (with its workers' group). */
  agent: boolean
  libp2p: Libp2p
  /** Where an owner's addresses are learnt before a request is forwarded to it. */
  membership: Parameters<typeof ownerForwarder>[1]
  /** The node's own logger (the data dir's checks log there). */
  nodeLog: Logger
}

/** A node's TASKS_PROTOCOL service: `grid task …`, `grid session …`, and requests members forward to this owner. */
export function nodeTasksService ({ agent, libp2p, membership, nodeLog, ...deps }: NodeTasksServiceParts): TasksService {
  return new TasksService({
    ...deps,
    // an agent prepared it at its start; a member alone prepares it on first use
    prepareDataDir: async () => { if (!agent) await prepareDataDir(deps.dataDir, nodeLog) },
    forward: ownerForwarder(libp2p, membership)
  })
}
