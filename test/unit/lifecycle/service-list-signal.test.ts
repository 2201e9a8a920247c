import { describe, it, expect } from 'vitest'
import { getEventListeners } from 'node:events'
import pino from 'pino'
import { ServiceList } from '../../../src/lifecycle/service-list.ts'
import type { Service } from '../../../src/lifecycle/service.ts'

/** A part that records its start and stop; `onStart` runs inside its start. */
function part (name: string, journal: string[], onStart?: (signal?: AbortSignal) => void | Promise<void>): Service {
  return {
    name,
    start: async ({ signal }) => {
      journal.push(`start ${name}`)
      await onStart?.(signal)
    },
    stop: () => { journal.push(`stop ${name}`) }
  }
}

const listOf = (services: Service[]): ServiceList => new ServiceList(services, { log: pino({ level: 'silent' }), stopTimeoutMs: 1000 })

describe('ServiceList.start({ signal })', () => {
  it('aborted while a part starts: that part finishes, nothing after it starts, all that started stops in reverse, the reason is thrown', async () => {
    const journal: string[] = []
    const controller = new AbortController()
    const reason = new Error('stop starting')
    const list = listOf([part('a', journal), part('b', journal, () => { controller.abort(reason) }), part('c', journal)])
    await expect(list.start({ signal: controller.signal })).rejects.toBe(reason)
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a'])
    expect(list.running()).toEqual([])
    // a later stop has nothing left to do
    await list.stop()
    expect(journal).toHaveLength(4)
  })

  it('aborted during the last part: it is stopped too', async () => {
    const journal: string[] = []
    const controller = new AbortController()
    const list = listOf([part('a', journal), part('b', journal, () => { controller.abort() })])
    await expect(list.start({ signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' })
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a'])
  })

  it('a part that gives up on the signal (throws its reason, or any error once it aborted): the signal\'s reason is thrown, and the part is stopped', async () => {
    const journal: string[] = []
    const controller = new AbortController()
    const reason = new Error('the reason')
    const givesUp = part('b', journal, async (signal) => {
      await new Promise((_resolve, reject) => { signal?.addEventListener('abort', () => { reject(new Error('something else')) }, { once: true }) })
    })
    const list = listOf([part('a', journal), givesUp, part('c', journal)])
    const starting = list.start({ signal: controller.signal })
    await new Promise(resolve => setImmediate(resolve))
    controller.abort(reason)
    await expect(starting).rejects.toBe(reason)
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a'])
  })

  it('a part that cannot give up on the signal: stopped once its start settles (the stop never races it), then the reason is thrown', async () => {
    const journal: string[] = []
    const controller = new AbortController()
    const reason = new Error('no more waiting')
    let finish: () => void = () => {}
    const slow = part('b', journal, async () => {
      await new Promise<void>(resolve => { finish = resolve })
      journal.push('b started')
    })
    const list = listOf([part('a', journal), slow, part('c', journal)])
    const starting = list.start({ signal: controller.signal })
    await new Promise(resolve => setImmediate(resolve))
    controller.abort(reason)
    const outcome = await Promise.race([starting.then(() => 'started', (err: unknown) => err), new Promise(resolve => setTimeout(resolve, 100, 'still waiting'))])
    // the start has not ended yet: b's stop waits for it (stop a after it, in reverse)
    expect(outcome).toBe('still waiting')
    expect(journal).toEqual(['start a', 'start b'])
    finish()
    await expect(starting).rejects.toBe(reason)
    expect(journal).toEqual(['start a', 'start b', 'b started', 'stop b', 'stop a'])
  })

  it('a part that cannot give up, whose start outlasts the stop deadline: destroyed then, and again once its start settles (what it opened late is closed); its late failure is logged', async () => {
    const journal: string[] = []
    const controller = new AbortController()
    let finish: (ok: boolean) => void = () => {}
    const lines: Array<{ msg?: string, service?: string }> = []
    const slow: Service = {
      name: 'slow',
      start: async () => {
        const ok = await new Promise<boolean>(resolve => { finish = resolve })
        journal.push('slow opened its port')
        if (!ok) throw new Error('late failure')
      },
      stop: async () => { await new Promise(resolve => setTimeout(resolve, 10_000)) },
      destroy: () => { journal.push('destroy slow') }
    }
    const list = new ServiceList([slow], { log: pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as { msg?: string }) } }), stopTimeoutMs: 50, destroyGraceMs: 50 })
    const starting = list.start({ signal: controller.signal })
    await new Promise(resolve => setImmediate(resolve))
    controller.abort()
    await expect(starting).rejects.toMatchObject({ name: 'AbortError' })
    // past the deadline: destroyed while its start still runs
    expect(journal).toEqual(['destroy slow'])
    finish(false)
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(journal).toEqual(['destroy slow', 'slow opened its port', 'destroy slow'])
    expect(lines.some(l => l.service === 'slow' && /failed to start/.test(l.msg ?? ''))).toBe(true)
  })

  it('a part given up on whose start has settled but whose stop outlasts the deadline is destroyed once', async () => {
    const journal: string[] = []
    const controller = new AbortController()
    let finish: () => void = () => {}
    const slow: Service = {
      name: 'slow',
      start: async () => { await new Promise<void>(resolve => { finish = resolve }) },
      stop: async () => { await new Promise(resolve => setTimeout(resolve, 10_000)) },
      destroy: () => { journal.push('destroy slow') }
    }
    const list = new ServiceList([slow], { log: pino({ level: 'silent' }), stopTimeoutMs: 50, destroyGraceMs: 50 })
    const starting = list.start({ signal: controller.signal })
    await new Promise(resolve => setImmediate(resolve))
    controller.abort()
    finish()
    await expect(starting).rejects.toMatchObject({ name: 'AbortError' })
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(journal).toEqual(['destroy slow'])
  })

  it('an already-aborted signal starts nothing', async () => {
    const journal: string[] = []
    const reason = new Error('before')
    const list = listOf([part('a', journal)])
    await expect(list.start({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(journal).toEqual([])
  })

  it('a start that completes leaves no listener on the signal; aborting it later stops nothing', async () => {
    const journal: string[] = []
    const controller = new AbortController()
    const list = listOf([part('a', journal), part('b', journal)])
    await list.start({ signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    controller.abort()
    expect(list.running()).toEqual(['a', 'b'])
    await list.stop()
    expect(journal).toEqual(['start a', 'start b', 'stop b', 'stop a'])
  })
})
