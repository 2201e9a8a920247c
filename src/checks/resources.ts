import { ConfigError } from '../errors.ts'
import { checkKnownKeys, checkOptional } from './check.ts'
import type { KnownKeys } from './check.ts'
import { cpuSlots, memoryMb } from './values.ts'

const RESOURCE_KEYS: KnownKeys<{ cpu?: number, memoryMb?: number }> = { cpu: true, memoryMb: true }

/**
 * A worker's resource request `{ cpu?, memoryMb? }` within the bounds the spawn protocol applies (a stage's
 * `resources`, a placement request): ConfigError naming `where.cpu` or `where.memoryMb` otherwise.
 */
export function checkResources (where: string, resources: unknown): void {
  if (resources == null) return
  if (typeof resources !== 'object') throw new ConfigError(where, 'must be an object { cpu?, memoryMb? }')
  // a typo (`cpus`) would otherwise ask for nothing, and the worker be placed as if it needed one slot
  checkKnownKeys<{ cpu?: number, memoryMb?: number }>(where, resources, RESOURCE_KEYS)
  const { cpu, memoryMb: memory } = resources as { cpu?: unknown, memoryMb?: unknown }
  checkOptional(`${where}.cpu`, cpuSlots, cpu)
  checkOptional(`${where}.memoryMb`, memoryMb, memory)
}
