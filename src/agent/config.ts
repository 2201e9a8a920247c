import { availableParallelism, freemem } from 'node:os'
import * as v from 'valibot'
import { checkKnownKeys, checkOption, checkOptional } from '../checks/check.ts'
import type { KnownKeys } from '../checks/check.ts'
import { cpuCapacity, maxWorkers, memoryCapacityMb, strategy, weight } from '../checks/values.ts'
import type { Strategy } from '../checks/values.ts'
import { workerEnvironment } from './worker-env.ts'

const MB = 1024 * 1024
/** Memory left to the agent itself and the OS when the default is taken from free memory. */
const RESERVE_MB = 512

const AGENT_KEYS: KnownKeys<AgentInit> = {
  workers: true, cpu: true, memoryMb: true, weight: true, strategy: true, attachTimeoutMs: true, environment: true, moduleDirs: true,
  moduleCacheMb: true, workerUser: true, prestartWorkers: true
}

/** `GridNode.start({ agent: { … } })`: this node spawns workers. */
export interface AgentInit {
  /** Most workers at once, 1-4096. Default: CPU count. */
  workers?: number
  /** CPU slots advertised (fractions allowed), at most 4096. Default: CPU count. */
  cpu?: number
  /** Memory advertised for workers, MB. Default: free memory at start minus a reserve. */
  memoryMb?: number
  /** Placement weight, -1e6 to 1e6 (negative flips the strategy; 0 drains). Default 1. */
  weight?: number
  /** Placement strategy preferred for this agent. Default horizontal. */
  strategy?: Strategy
  /** A worker whose requester never opens its worker stream is killed after this long, ms. Default 30,000. */
  attachTimeoutMs?: number
  /**
   * The agent's environment (the CLI passes its own): workers inherit only its
   * names in WORKER_ENV_ALLOWLIST (PATH, HOME, LANG, LC_*, …), never a GRID_* one. Default: none.
   */
  environment?: Record<string, string | undefined>
  /**
   * Directories of deployed stage code a requester may name to run in place (imports resolve
   * beside the file). Any other stage runs only from the content-addressed cache of shipped bundles.
   */
  moduleDirs?: string[]
  /** Most MB the cache of shipped bundles holds; the least recently used go first. Default 256. */
  moduleCacheMb?: number
  /** Run workers as this user (name or uid; the agent must run as root). Default: the agent's own user. */
  workerUser?: string
  /**
   * Worker hosts kept started ahead of need, 0-64: a spawn that takes one only loads its stage module
   * (no Node start), so a burst's new workers run sooner. Idle, they hold no capacity. Default 2.
   */
  prestartWorkers?: number
}

export interface AgentConfig {
  workers: number
  cpu: number
  memoryMb: number
  weight: number
  strategy: Strategy
  attachTimeoutMs: number
  /** What every worker's environment starts from: the allowlisted part of `environment`. */
  workerEnv: Record<string, string>
  moduleDirs: string[]
  moduleCacheMb: number
  workerUser?: string
  prestartWorkers: number
}

export const DEFAULT_ATTACH_TIMEOUT_MS = 30_000
export const DEFAULT_MODULE_CACHE_MB = 256
export const DEFAULT_PRESTART_WORKERS = 2
const moduleCacheMb = v.pipe(v.number(), v.integer('must be an integer number of MB from 1 to 1048576'), v.minValue(1, 'must be an integer number of MB from 1 to 1048576'), v.maxValue(1024 * 1024, 'must be an integer number of MB from 1 to 1048576'))
const moduleDirs = v.pipe(v.array(v.pipe(v.string('must be a list of directories'), v.minLength(1, 'must be a list of directories')), 'must be a list of directories'), v.maxLength(64, 'must be at most 64 directories'))
const workerUser = v.pipe(v.string('must be a user name or uid'), v.regex(/^[a-z_][a-z0-9_.-]{0,31}\$?$|^\d{1,10}$/i, 'must be a user name or uid'))
const prestartWorkers = v.pipe(v.number(), v.integer('must be an integer from 0 to 64'), v.minValue(0, 'must be an integer from 0 to 64'), v.maxValue(64, 'must be an integer from 0 to 64'))
const attachTimeoutMs = v.pipe(v.number(), v.integer('must be an integer from 100 to 3600000'), v.minValue(100, 'must be an integer from 100 to 3600000'), v.maxValue(3_600_000, 'must be an integer from 100 to 3600000'))

/** Fills defaults; every value passes the same check its peers apply to the gossiped entry. */
export function resolveAgentConfig (init: AgentInit): AgentConfig {
  checkKnownKeys('agent', init, AGENT_KEYS)
  const cpus = availableParallelism()
  return {
    workers: checkOption('agent.workers', maxWorkers, init.workers ?? cpus),
    cpu: checkOption('agent.cpu', cpuCapacity, init.cpu ?? cpus),
    memoryMb: checkOption('agent.memoryMb', memoryCapacityMb, init.memoryMb ?? Math.max(256, Math.floor(freemem() / MB) - RESERVE_MB)),
    weight: checkOption('agent.weight', weight, init.weight ?? 1),
    strategy: checkOption('agent.strategy', strategy, init.strategy ?? 'horizontal'),
    attachTimeoutMs: checkOption('agent.attachTimeoutMs', attachTimeoutMs, init.attachTimeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS),
    workerEnv: workerEnvironment(init.environment ?? {}),
    moduleDirs: checkOption('agent.moduleDirs', moduleDirs, init.moduleDirs ?? []),
    moduleCacheMb: checkOption('agent.moduleCacheMb', moduleCacheMb, init.moduleCacheMb ?? DEFAULT_MODULE_CACHE_MB),
    workerUser: checkOptional('agent.workerUser', workerUser, init.workerUser),
    prestartWorkers: checkOption('agent.prestartWorkers', prestartWorkers, init.prestartWorkers ?? DEFAULT_PRESTART_WORKERS)
  }
}
