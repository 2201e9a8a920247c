import { expect } from 'vitest'
import { MemberTable } from '../../../src/membership/table.ts'
import type { MemberTableInit } from '../../../src/membership/table.ts'
import type { MemberEntry } from '../../../src/membership/schema.ts'
import type { MemberEvent } from '../../../src/membership/member.ts'

export type Overrides = Partial<Omit<MemberEntry, 'id' | 'load'>> & { load?: Partial<MemberEntry['load']> }

/** A valid MemberEntry; fake ids ('A', 'B', …) do: the table never parses peer ids. */
export function entry (id: string, overrides: Overrides = {}): MemberEntry {
  const base: MemberEntry = {
    id,
    addresses: [`/ip4/10.0.0.1/tcp/4100/p2p/${id}`],
    state: 'alive',
    incarnation: 0,
    role: 'member',
    capacity: { cpu: 4, memoryMb: 8192 },
    load: { cpu: 0.1, memoryFreeMb: 4096, workers: 0, maxWorkers: 4, slotsUsed: 0, memoryUsedMb: 0, stages: {} },
    weight: 1,
    strategy: 'horizontal'
  }
  return { ...base, ...overrides, load: { ...base.load, ...overrides.load } }
}

export const SELF = 'S'
export const INIT: MemberTableInit = { selfId: SELF, suspectAfterMs: 1000, suspicionMinMs: 500, suspicionMaxMs: 3000, forgetFailedAfterMs: 60_000, forgetLeftAfterMs: 90_000, maxMembers: 100 }
export const { suspectAfterMs: SUSPECT, suspicionMinMs: MIN, suspicionMaxMs: MAX } = INIT

export function table (...ids: string[]): MemberTable {
  const t = new MemberTable(INIT)
  for (const id of ids) t.heard(entry(id), 0)
  return t
}
export const types = (events: MemberEvent[]): string[] => events.map(e => e.type)
/** A heard at 0 and suspected by tick at SUSPECT. */
export function suspectA (...others: string[]): MemberTable {
  const t = table('A', ...others)
  for (const id of others) t.heard(entry(id), SUSPECT)
  expect(types(t.tick(SUSPECT))).toEqual(['member:suspect'])
  return t
}
export function failedA (incarnation = 0): MemberTable {
  const t = new MemberTable(INIT)
  t.heard(entry('A', { incarnation }), 0)
  t.unreachable('A', 0)
  return t
}
export function leftA (incarnation = 0): MemberTable {
  const t = new MemberTable(INIT)
  t.heard(entry('A', { incarnation }), 0)
  t.heard(entry('A', { incarnation, state: 'left' }), 0)
  return t
}
