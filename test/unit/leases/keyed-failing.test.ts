import { it, expect } from 'vitest'
import { pino } from 'pino'
import { KeyedLeases, leaseTimings } from '../../../src/leases/jobs.ts'

it('a job whose records are gone is forgotten as failing: the set of failing jobs does not keep every id a member ever wrote, and a new record under the old id that fails is logged again', () => {
  const lines: string[] = []
  const leases = new KeyedLeases('self', leaseTimings({}), pino({ level: 'warn' }, { write: (line: string) => { lines.push(line) } }), 'schedule')
  const broken = (): void => { throw new Error('bad record') }
  for (let i = 0; i < 100; i++) leases.each([`junk-${i}`], broken)
  expect(lines).toHaveLength(100)
  // every junk record deleted: the loop prunes to what is live
  leases.prune(new Set())
  expect((leases as unknown as { failing: Set<string> }).failing.size).toBe(0)
  leases.each(['junk-0'], broken)
  expect(lines).toHaveLength(101)
})
