import { it, expect } from 'vitest'
import pino from 'pino'
import { MAX_SCHEDULES_PER_MAKER, ScheduleService } from '../../../src/schedules/service.ts'
import { ScheduleLimitError } from '../../../src/errors.ts'
import { memoryChannel } from './memory-channel.ts'

it('one maker holds at most MAX_SCHEDULES_PER_MAKER schedules (ERR_SCHEDULE_LIMIT); replacing one of them and another maker\'s schedules still go', () => {
  const service = new ScheduleService({
    self: 'P',
    channel: memoryChannel('schedules', 'P'),
    tasks: { registeredNames: () => ['report'], registeredModule: () => '/report.mjs', submit: () => { throw new Error('not fired here') } },
    members: () => [],
    log: pino({ level: 'silent' })
  })
  const mallory = { subject: 'mallory', admin: false }
  for (let i = 0; i < MAX_SCHEDULES_PER_MAKER; i++) service.create({ id: `m${i}`, task: 'report', everyMs: 31_536_000_000 }, mallory)
  expect(() => service.create({ id: 'one-more', task: 'report', everyMs: 60_000 }, mallory)).toThrow(ScheduleLimitError)
  expect(() => service.create({ id: 'one-more', task: 'report', everyMs: 60_000 }, mallory)).toThrow(/mallory already made 512 schedules/)
  expect(service.create({ id: 'm0', task: 'report', everyMs: 60_000 }, mallory).everyMs).toBe(60_000)
  expect(service.create({ id: 'alice-1', task: 'report', everyMs: 60_000 }, { subject: 'alice', admin: false }).owner).toBe('alice')
  expect(service.list()).toHaveLength(MAX_SCHEDULES_PER_MAKER + 1)
})
