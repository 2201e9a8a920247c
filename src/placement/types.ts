import type { Strategy } from '../checks/values.ts'

/** What one worker needs: CPU slots (fractions allowed) and memory. */
export interface ResourceRequest {
  cpu: number
  memoryMb: number
}

/** An agent as placement sees it: capacity, what its workers already reserved, and its preferences. */
export interface AgentLoad {
  id: string
  capacity: { cpu: number, memoryMb: number }
  maxWorkers: number
  used: { cpu: number, memoryMb: number, workers: number }
  weight: number
  strategy: Strategy
}

export interface Shortfall {
  agentId: string
  lacks: string[]
}
