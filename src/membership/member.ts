import type { MemberEntry } from './schema.ts'

/** One row of the member table, as `node.members()` and `grid status` show it. */
export interface Member extends MemberEntry {
  /** Milliseconds since this node last heard the member (directly or via a live report). */
  lastSeenMs: number
}

export type MemberEventType = 'member:join' | 'member:update' | 'member:suspect' | 'member:fail' | 'member:leave' | 'member:rejoin'

export interface MemberEvent {
  type: MemberEventType
  member: Member
}

/** Whether an update is worth a `member:update` event (load figures change every beat; those are silent). */
export function significantChange (before: MemberEntry, after: MemberEntry): boolean {
  return before.role !== after.role ||
    before.weight !== after.weight ||
    before.strategy !== after.strategy ||
    before.incarnation !== after.incarnation ||
    before.capacity.cpu !== after.capacity.cpu ||
    before.capacity.memoryMb !== after.capacity.memoryMb ||
    before.load.workers !== after.load.workers ||
    before.load.maxWorkers !== after.load.maxWorkers ||
    before.load.slotsUsed !== after.load.slotsUsed ||
    before.load.memoryUsedMb !== after.load.memoryUsedMb ||
    JSON.stringify(before.load.stages) !== JSON.stringify(after.load.stages) ||
    before.addresses.join() !== after.addresses.join()
}
