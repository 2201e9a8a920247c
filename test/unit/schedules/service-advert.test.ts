import { it, expect, vi, afterEach } from 'vitest'
import pino from 'pino'
import { ScheduleService } from '../../../src/schedules/service.ts'
import { ADVERT_REFRESH_MS } from '../../../src/leases/fresh-adverts.ts'
import { ScheduleStore } from '../../../src/schedules/store.ts'
import { memoryChannel } from './memory-channel.ts'

afterEach(() => { vi.useRealTimers() })

it('a task name registered after the start joins this firer\'s advert within a second; stop withdraws it', async () => {
  vi.useFakeTimers()
  const names = ['report']
  const channel = memoryChannel('schedules', 'P')
  const service = new ScheduleService({
    self: 'P',
    channel,
    tasks: { registeredNames: () => [...names], registeredModule: () => undefined, submit: () => { throw new Error('not fired here') } },
    members: () => [],
    log: pino({ level: 'silent' })
  })
  const advert = (): unknown => new ScheduleStore(channel).candidates().get('P')
  service.start()
  expect(advert()).toEqual({ tasks: ['report'], at: Date.now() })
  names.push('resize')
  await vi.advanceTimersByTimeAsync(1000)
  const changed = Date.now()
  expect(advert()).toEqual({ tasks: ['report', 'resize'], at: changed })
  // the same names are written again now and then, so that firers can tell a live advert from one left behind
  await vi.advanceTimersByTimeAsync(ADVERT_REFRESH_MS - 1000)
  expect(advert()).toEqual({ tasks: ['report', 'resize'], at: changed })
  await vi.advanceTimersByTimeAsync(1000)
  expect(advert()).toEqual({ tasks: ['report', 'resize'], at: changed + ADVERT_REFRESH_MS })
  service.stop()
  expect(advert()).toBeUndefined()
})
