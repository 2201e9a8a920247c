import type { MemberEntry } from '../../../src/membership/schema.ts'

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
