import { ConfigError } from '../errors.ts'
import { checkOptional } from './check.ts'
import { cpuSlots, memoryMb } from './values.ts'

/**
 * A worker's resource request `{ cpu?, memoryMb? }` within the bounds the spawn protocol applies (a stage's
 * `resources`, a placement request): ConfigError naming `where.cpu` or `where.memoryMb` otherwise.
 */
export function checkResources (where: string, resources: unknown): void {
  if (resources == null) return
  if (typeof resources !== 'object') throw new ConfigError(where, 'must be an object { cpu?, memoryMb? }')
  const { cpu, memoryMb: memory } = resources as { cpu?: unknown, memoryMb?: unknown }
  checkOptional(`${where}.cpu`, cpuSlots, cpu)
  checkOptional(`${where}.memoryMb`, memoryMb, memory)
}
