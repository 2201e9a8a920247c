import { describe, it, expect, beforeAll, afterAll, afterEach, vi } from 'vitest'
import { getEventListeners } from 'node:events'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import pino from 'pino'
import { GridNode } from '../../src/node.ts'
import { defineAddon } from '../../src/addons/addon.ts'
import type { AddonContext } from '../../src/addons/addon.ts'
import { ERR_CONFIG } from '../../src/errors.ts'
import { JOURNAL_FILE } from '../../src/tasks/journal.ts'
import { loadCerts } from '../../src/transport/mtls/material.ts'
import type { TlsMaterial } from '../../src/transport/mtls/material.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { connectOutcome, freePort } from './helpers/ports.ts'
import { writeLargeJournal } from './helpers/large-journal.ts'

/** A logger whose lines the test reads; `onLine` sees each as it is written (inside the code that logs it). */
function recordingLogger (onLine: (line: Record<string, unknown>) => void = () => {}): { logger: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const write = (text: string): void => {
    const line = JSON.parse(text) as Record<string, unknown>
    lines.push(line)
    onLine(line)
  }
  return { logger: pino({ level: 'info' }, { write }), lines }
}

/** What a start came to: its error, or 'started' (the node then stopped, so a test of old code leaves nothing running). */
async function outcome (start: Promise<GridNode>): Promise<unknown> {
  try {
    const node = await start
    await node.stop()
    return 'started'
  } catch (err) {
    return err
  }
}

describe('GridNode.start(init, { signal })', () => {
  let grid: GridFixture
  let tls: TlsMaterial
  beforeAll(async () => { grid = await GridFixture.create(1); tls = await loadCerts(grid.dir, 'n1') })
  afterAll(async () => { await grid?.close() })
  afterEach(() => { vi.useRealTimers() })
  // periodic timers are unref'd (getActiveResourcesInfo misses them): setInterval is faked to count them
  const fakeIntervals = (): void => { vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] }) }
  const base = (port: number, data: string): { host: string, port: number, tls: TlsMaterial, heartbeatMs: number, dataDir: string } => ({ host: '127.0.0.1', port, tls, heartbeatMs: 200, dataDir: join(grid.dir, data) })

  it('aborted mid-start (once listening, before the add-ons): rejects with the reason, stops what started in reverse, port closed, no timer left', async () => {
    fakeIntervals()
    const port = await freePort()
    const controller = new AbortController()
    const reason = new Error('no longer wanted')
    const { logger, lines } = recordingLogger(line => { if (line.msg === 'grid node listening') controller.abort(reason) })
    let addonStarted = false
    const addon = defineAddon({ name: 'late', start: () => { addonStarted = true } })
    expect(await outcome(GridNode.start({ ...base(port, 'data-mid'), logger, addons: [[addon]] }, { signal: controller.signal }))).toBe(reason)
    expect(addonStarted).toBe(false)
    // aborted inside the part that logs it (seeds): noticed there, not at the next part
    expect(lines.find(l => l.msg === 'start aborted; stopping what started')).toMatchObject({ service: 'seeds' })
    expect(await connectOutcome(port)).toBe('ECONNREFUSED')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('an add-on of init.addons whose start hangs and ignores its signal: abort rejects with the reason once the stop deadline (5 s) destroyed it, the add-on sees its signal aborted, the port closes', async () => {
    fakeIntervals()
    const port = await freePort()
    const controller = new AbortController()
    const reason = new Error('taking too long')
    let ctx: AddonContext | undefined
    const hanging = defineAddon({ name: 'hanging', start: async (c) => { ctx = c; setTimeout(() => { controller.abort(reason) }, 20); await new Promise(() => {}) } })
    const t0 = Date.now()
    expect(await outcome(GridNode.start({ ...base(port, 'data-hang'), addons: [[hanging]] }, { signal: controller.signal }))).toBe(reason)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(ctx?.signal.reason).toBe(reason)
    expect(await connectOutcome(port)).toBe('ECONNREFUSED')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('aborted while the tasks\' journal is read (a large one takes seconds): rejects at once with the reason, the reading thread ended, the journal untouched, the port closed', async () => {
    const port = await freePort()
    const dataDir = join(grid.dir, 'data-journal')
    // 300,000 finished tasks: seconds to read (in the journal's thread), where every other part takes milliseconds
    const rows = 300_000
    await writeLargeJournal(join(dataDir, JOURNAL_FILE), rows)
    const controller = new AbortController()
    const { logger, lines } = recordingLogger()
    const starting = outcome(GridNode.start({ ...base(port, 'data-journal'), logger }, { signal: controller.signal }))
    // listening: the parts after libp2p start in milliseconds, up to the tasks' journal
    while (await connectOutcome(port) !== 'connected') await new Promise(resolve => setTimeout(resolve, 5))
    await new Promise(resolve => setTimeout(resolve, 200))
    const abortedAt = Date.now()
    controller.abort()
    expect(await starting).toMatchObject({ name: 'AbortError' })
    // generous for a loaded machine (stopping libp2p and membership); the read alone takes seconds, 17 s before
    expect(Date.now() - abortedAt).toBeLessThan(5000)
    expect(lines.find(l => l.msg === 'start aborted; stopping what started')).toMatchObject({ service: 'tasks' })
    expect(lines.find(l => l.msg === 'tasks resumed from the journal')).toBeUndefined()
    expect(await connectOutcome(port)).toBe('ECONNREFUSED')
    // its thread is gone (the file's exclusive lock with it), every row still there
    const db = new DatabaseSync(join(dataDir, JOURNAL_FILE), { timeout: 0 })
    try {
      db.exec('BEGIN IMMEDIATE; COMMIT')
      expect(db.prepare('SELECT count(*) AS n FROM tasks').get()).toEqual({ n: rows })
    } finally {
      db.close()
    }
  }, 60_000)

  it('an already-aborted signal rejects before anything starts', async () => {
    const port = await freePort()
    const reason = new Error('never mind')
    const { logger, lines } = recordingLogger()
    expect(await outcome(GridNode.start({ ...base(port, 'data-before'), logger }, { signal: AbortSignal.abort(reason) }))).toBe(reason)
    expect(lines).toEqual([])
    expect(await connectOutcome(port)).toBe('ECONNREFUSED')
  })

  it('a start that completes lets go of its signal: aborting it later changes nothing', async () => {
    const port = await freePort()
    const controller = new AbortController()
    const node = await GridNode.start(base(port, 'data-ok'), { signal: controller.signal })
    try {
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
      controller.abort()
      await new Promise(resolve => setTimeout(resolve, 50))
      expect(await connectOutcome(port)).toBe('connected')
      // use takes { signal } too: a hanging add-on is given up, the node keeps what it had
      const using = new AbortController()
      const pending = node.use(defineAddon({ name: 'hanging', start: async () => await new Promise(() => {}) }), undefined, { signal: using.signal })
      using.abort(new Error('enough'))
      await expect(pending).rejects.toThrow('enough')
      expect(node.addonNames()).toEqual([])
      await expect(node.use(defineAddon({ name: 'x', start: () => {} }), undefined, { signal: {} as AbortSignal })).rejects.toMatchObject({ code: ERR_CONFIG, option: 'use.signal' })
    } finally {
      await node.stop()
    }
  })

  it('refuses what is no AbortSignal, or an unknown option, at the call', async () => {
    await expect(GridNode.start(base(0, 'data-bad'), { signal: {} as AbortSignal })).rejects.toMatchObject({ code: ERR_CONFIG, option: 'start.signal' })
    await expect(GridNode.start(base(0, 'data-bad'), { sginal: 1 } as never)).rejects.toMatchObject({ code: ERR_CONFIG, option: 'start.sginal' })
  })
})
