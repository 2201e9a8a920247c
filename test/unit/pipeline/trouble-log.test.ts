import { it, expect } from 'vitest'
import { pino } from 'pino'
import { TroubleLog } from '../../../src/pipeline/trouble-log.ts'

it('a stage failing every item logs one line a minute, the next saying how many more failed since', () => {
  const lines: Array<Record<string, unknown>> = []
  const trouble = new TroubleLog(pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }))
  const error = { name: 'RangeError', message: 'x'.repeat(5000) }
  for (let i = 0; i < 1000; i++) trouble.itemFailed('resize', 3, error, 1000 + i)
  trouble.itemFailed('other', 3, error, 2000)
  expect(lines).toHaveLength(2)
  // the message in the text is cut; the field keeps more of it
  expect(String(lines[0]!.msg).length).toBeLessThan(300)
  trouble.itemFailed('resize', 3, error, 61_001)
  expect(lines).toHaveLength(3)
  expect(lines[2]).toMatchObject({ stage: 'resize', sinceLastLine: 999 })
  expect(lines[2]!.msg).toMatch(/; 999 more since the last such line$/)
})
