import { describe, it, expect } from 'vitest'
import { pino } from 'pino'
import { MemberEventLog, EVENT_LINES_BURST, EVENT_LINES_PER_SECOND } from '../../../src/membership/event-log.ts'

function recorded (): { log: MemberEventLog, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { log: new MemberEventLog(logger), lines }
}

describe('member event lines', () => {
  it('a flood of minted members logs a burst, then a bounded rate, and says how many it held back', () => {
    const { log, lines } = recorded()
    for (let i = 0; i < 10_000; i++) log.info({ member: `minted-${i}` }, 'member:join', 1000)
    expect(lines.length).toBe(EVENT_LINES_BURST)
    // a second later: a second's worth more, the first saying what was held back
    for (let i = 0; i < 1000; i++) log.info({ member: `later-${i}` }, 'member:join', 2000)
    const after = lines.slice(EVENT_LINES_BURST)
    expect(after[0]).toMatchObject({ heldBack: 10_000 - EVENT_LINES_BURST })
    expect(after.length).toBe(EVENT_LINES_PER_SECOND + 1)
    expect(after[1]).toMatchObject({ member: 'later-0', msg: 'member:join' })
  })

  it('a grid\'s ordinary events all go out', () => {
    const { log, lines } = recorded()
    for (let i = 0; i < 100; i++) log.info({ member: `m-${i}` }, i % 2 === 0 ? 'member:join' : 'member:fail', 1000 + i)
    expect(lines.length).toBe(100)
    expect(lines.some(l => l.heldBack != null)).toBe(false)
  })
})
