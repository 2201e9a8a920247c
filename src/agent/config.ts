import { availableParallelism, freemem } from 'node:os'
import { positive } from '../config.ts'
import { ConfigError } from '../errors.ts'
import type { Strategy } from '../membership/schema.ts'

const MB = 1024 * 1024
/** Memory left to the agent itself and the OS when the default is taken from free memory. */
const RESERVE_MB = 512

/** `GridNode.start({ agent: { … } })`: this node spawns workers. */
export interface AgentInit {
  /** Most workers at once. Default: CPU count. */
  workers?: number
  /** CPU slots advertised. Default: CPU count. */
  cpu?: number
  /** Memory advertised for workers, MB. Default: free memory at start minus a reserve. */
  memoryMb?: number
  /** Placement weight (float; negative flips the strategy; 0 drains). Default 1. */
  weight?: number
  /** Placement strategy preferred for this agent. Default horizontal. */
  strategy?: Strategy
}

export interface AgentConfig {
  workers: number
  cpu: number
  memoryMb: number
  weight: number
  strategy: Strategy
}

export function resolveAgentConfig (init: AgentInit): AgentConfig {
  const cpus = availableParallelism()
  const weight = init.weight ?? 1
  if (!Number.isFinite(weight)) throw new ConfigError('agent.weight', `must be a finite number, got ${weight}`)
  const strategy = init.strategy ?? 'horizontal'
  checkStrategy(strategy, 'agent.strategy')
  return {
    workers: Math.floor(positive('agent.workers', init.workers ?? cpus)),
    cpu: positive('agent.cpu', init.cpu ?? cpus),
    memoryMb: Math.floor(positive('agent.memoryMb', init.memoryMb ?? Math.max(256, Math.floor(freemem() / MB) - RESERVE_MB))),
    weight,
    strategy
  }
}

export function checkStrategy (value: string, option: string): Strategy {
  if (value !== 'horizontal' && value !== 'vertical') throw new ConfigError(option, `must be "horizontal" or "vertical", got "${value}"`)
  return value
}
