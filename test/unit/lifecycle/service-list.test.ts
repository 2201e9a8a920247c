import { describe, it, expect } from 'vitest'
import pino from 'pino'
import { ServiceList } from '../../../src/lifecycle/service-list.ts'
import type { Service } from '../../../src/lifecycle/service.ts'

/** A part that records what happens to it in a shared journal. */
function part (name: string, journal: string[], behaviour: { startFails?: boolean, stopFails?: boolean, stopMs?: number, noDestroy?: boolean } = {}): Service {
  return {
    name,
    start: async () => {
      journal.push(`start ${name}`)
      if (behaviour.startFails === true) throw new Error(`${name} cannot start`)
    },
    stop: async () => {
      journal.push(`stop ${name}`)
      if (behaviour.stopMs != null) await new Promise(resolve => setTimeout(resolve, behaviour.stopMs))
      if (behaviour.stopFails === true) throw new Error(`${name} cannot stop`)
      journal.push(`stopped ${name}`)
    },
    destroy: behaviour.noDestroy === true ? undefined : () => { journal.push(`destroy ${name}`) }
  }
}

/** A logger whose lines the test can read. */
function recordingLog (): { log: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { log, lines }
}

describe('ServiceList', () => {
  it('starts in order and stops in reverse', async () => {
    const journal: string[] = []
    const list = new ServiceList([part('a', journal), part('b', journal), part('c', journal)], { log: pino({ level: 'silent' }), stopTimeoutMs: 1000 })
    await list.start()
    expect(list.running()).toEqual(['a', 'b', 'c'])
    await list.stop()
    expect(journal).toEqual(['start a', 'start b', 'start c', 'stop c', 'stopped c', 'stop b', 'stopped b', 'stop a', 'stopped a'])
    expect(list.running()).toEqual([])
  })

  it('a part that throws in start stops what started (itself included), in reverse, and rethrows', async () => {
    const journal: string[] = []
    const list = new ServiceList([part('a', journal), part('b', journal), part('c', journal, { startFails: true }), part('d', journal)], { log: pino({ level: 'silent' }), stopTimeoutMs: 1000 })
    await expect(list.start()).rejects.toThrow('c cannot start')
    expect(journal).toEqual(['start a', 'start b', 'start c', 'stop c', 'stopped c', 'stop b', 'stopped b', 'stop a', 'stopped a'])
    // stopping after a failed start does nothing more
    await list.stop()
    expect(journal.filter(l => l.startsWith('stop')).length).toBe(6)
  })

  it('start and stop are safe to call twice', async () => {
    const journal: string[] = []
    const list = new ServiceList([part('a', journal)], { log: pino({ level: 'silent' }), stopTimeoutMs: 1000 })
    await Promise.all([list.start(), list.start()])
    await Promise.all([list.stop(), list.stop()])
    await list.stop()
    expect(journal).toEqual(['start a', 'stop a', 'stopped a'])
  })

  it('stop during start waits for start, then stops what started and starts nothing more', async () => {
    const journal: string[] = []
    let release!: () => void
    const slow: Service = { name: 'slow', start: async () => { journal.push('start slow'); await new Promise<void>(resolve => { release = resolve }) }, stop: () => { journal.push('stop slow') } }
    const list = new ServiceList([part('a', journal), slow, part('b', journal)], { log: pino({ level: 'silent' }), stopTimeoutMs: 1000 })
    const started = list.start()
    await new Promise(resolve => setImmediate(resolve))
    const stopped = list.stop()
    release()
    await started
    await stopped
    expect(journal).toEqual(['start a', 'start slow', 'stop slow', 'stop a', 'stopped a'])
  })

  it('one deadline for all parts: past it, what has not stopped is destroyed in reverse and logged', async () => {
    const journal: string[] = []
    const { log, lines } = recordingLog()
    // each of b and c alone fits in the deadline (150 ms); together they do not
    const list = new ServiceList([part('a', journal), part('b', journal, { stopMs: 150 }), part('c', journal, { stopMs: 150 })], { log, stopTimeoutMs: 200 })
    await list.start()
    await list.stop()
    expect(journal).toEqual(['start a', 'start b', 'start c', 'stop c', 'stopped c', 'stop b', 'destroy b', 'destroy a'])
    const warning = lines.find(l => l.msg === 'graceful stop timed out; destroying what was left')
    expect(warning).toMatchObject({ timeoutMs: 200, forced: ['b', 'a'] })
    // b's stop finishing late does not start a's stop after the deadline
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(journal).not.toContain('stop a')
  })

  it('a part whose stop throws is destroyed; the others still stop gracefully', async () => {
    const journal: string[] = []
    const { log, lines } = recordingLog()
    const list = new ServiceList([part('a', journal), part('b', journal, { stopFails: true }), part('c', journal)], { log, stopTimeoutMs: 1000 })
    await list.start()
    await list.stop()
    expect(journal).toEqual(['start a', 'start b', 'start c', 'stop c', 'stopped c', 'stop b', 'stop a', 'stopped a', 'destroy b'])
    expect(lines.find(l => l.msg === 'a service failed to stop cleanly')).toMatchObject({ service: 'b', err: { message: 'b cannot stop' } })
  })

  it('a destroy that hangs is given up after its grace, so stop stays bounded', async () => {
    const hanging: Service = { name: 'stuck', stop: async () => await new Promise(() => {}), destroy: async () => await new Promise(() => {}) }
    const { log, lines } = recordingLog()
    const list = new ServiceList([hanging], { log, stopTimeoutMs: 50, destroyGraceMs: 50 })
    await list.start()
    const t0 = performance.now()
    await list.stop()
    // generous: 100 ms of deadline and grace, the rest is slack for a loaded machine
    expect(performance.now() - t0).toBeLessThan(3000)
    expect(lines.map(l => l.msg)).toContain('destroying services outlasted its grace; giving up waiting')
  })
})
