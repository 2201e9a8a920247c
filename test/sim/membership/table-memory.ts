import { MembershipCore } from '../../../src/membership/core.ts'
import type { MembershipConfig } from '../../../src/membership/config.ts'
import { simEntry, EPOCH } from './node.ts'

/**
 * What one node's member table costs at `members` rows, in bytes: what every
 * node of a grid that size pays. Measured on the production path (each row a
 * heartbeat's own entry object, as the parser makes it, heard and ticked so
 * the ring is built), `samples` tables at once, the heap compared before and
 * after. Needs a collectable heap (`node --expose-gc`); null without one.
 */
export function tableBytesPerNode (members: number, config: MembershipConfig, samples = 4): number | null {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc == null) return null
  // collected until it stops shrinking: a single collection after a large simulation left garbage
  // that the next one freed, and a 1,000-row table once measured at -0.71 MB
  let before = Number.POSITIVE_INFINITY
  for (let round = 0; round < 5; round++) {
    gc()
    const used = process.memoryUsage().heapUsed
    if (used >= before * 0.99) break
    before = Math.min(before, used)
  }
  const cores: MembershipCore[] = []
  for (let s = 0; s < samples; s++) {
    const core = new MembershipCore(config, simEntry(`self${s}`, EPOCH), 0, { reject: () => {}, certify: entry => entry, wallNow: () => EPOCH })
    for (let i = 0; i < members - 1; i++) core.table.heard(simEntry(`n${i}`, EPOCH), 0, 0)
    core.tick(250)
    cores.push(core)
  }
  gc()
  const bytes = (process.memoryUsage().heapUsed - before) / samples
  return cores.length === samples ? Math.round(bytes) : null
}
