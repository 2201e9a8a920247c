import { expect } from 'vitest'
import { MemberTable } from '../../../src/membership/table.ts'
import type { MemberTableInit } from '../../../src/membership/table.ts'
import type { MemberEvent } from '../../../src/membership/member.ts'

export { entry } from './entry.ts'
export type { Overrides } from './entry.ts'
import { entry } from './entry.ts'

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
