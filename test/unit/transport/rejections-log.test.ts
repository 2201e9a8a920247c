import { it, expect } from 'vitest'
import { pino } from 'pino'
import { Rejections } from '../../../src/transport/rejections.ts'
import { MAX_LINES_PER_WINDOW } from '../../../src/transport/mtls/refusal-log.ts'

/** A Rejections whose warn lines are kept. */
function counted (): { rejections: Rejections, lines: string[] } {
  const lines: string[] = []
  const log = pino({ level: 'warn' }, { write: (line: string) => { lines.push(line) } })
  return { rejections: new Rejections(log), lines }
}

it('bad messages under thousands of fresh author ids (a hostile member mints keys: gossip authors are any key) are counted in full but logged at most MAX_LINES_PER_WINDOW times a minute', () => {
  const { rejections, lines } = counted()
  for (let i = 0; i < 10_000; i++) rejections.reject('gridd/members/1', 'schema', `minted-${i}`, 'dropped malformed membership gossip', 'bad field')
  expect(rejections.counters()).toEqual([{ protocol: 'gridd/members/1', reason: 'schema', count: 10_000 }])
  expect(lines.length).toBeLessThanOrEqual(MAX_LINES_PER_WINDOW)
})

it('one peer is still logged once a minute per protocol and reason, and each reason of its own once', () => {
  const { rejections, lines } = counted()
  for (let i = 0; i < 50; i++) rejections.reject('gridd/members/1', 'schema', 'peer-a', 'dropped malformed membership gossip')
  rejections.reject('gridd/members/1', 'replay', 'peer-a', 'dropped replayed heartbeat')
  rejections.reject('/gridd/members/sync/1.0.0', 'schema', 'peer-a', 'dropped malformed member sync')
  expect(lines).toHaveLength(3)
  expect(JSON.parse(lines[0]!)).toMatchObject({ from: 'peer-a', protocol: 'gridd/members/1', rejected: 'schema' })
})
