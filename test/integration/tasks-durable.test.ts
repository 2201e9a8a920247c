import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { eventually } from './helpers/grid-process.ts'
import { Journal, JOURNAL_FILE } from '../../src/tasks/journal.ts'
import type { TaskRow } from '../../src/tasks/journal.ts'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/tasks/${name}`, import.meta.url))
const OWNER = fixture('durable-owner.ts')
const COUNTED = fixture('counted.mjs')
const AGENT = ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096']
const TASKS = 50

/** The owner program (a GridNode in its own process, run by this Node), with its JSON lines. */
class OwnerProcess {
  readonly proc: ChildProcess
  readonly lines: Array<Record<string, unknown>> = []
  stderr = ''
  private partial = ''

  constructor (args: object) {
    this.proc = spawn(process.execPath, [OWNER, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n')
      this.partial = parts.pop() ?? ''
      for (const part of parts) if (part.trim() !== '') this.lines.push(JSON.parse(part) as Record<string, unknown>)
    })
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk })
  }

  /** The first line with `key`, once it is printed (fails with the program's stderr if it exits first). */
  async line<T> (key: string, timeoutMs = 60_000): Promise<T> {
    return await eventually(() => {
      const found = this.lines.find(l => key in l)
      if (found != null) return found[key] as T
      if (this.proc.exitCode != null) throw new Error(`owner exited ${this.proc.exitCode}: ${this.stderr}`)
      return undefined
    }, timeoutMs, 50)
  }

  count (key: string): number {
    return this.lines.filter(l => key in l).length
  }

  async kill (): Promise<void> {
    if (this.proc.exitCode != null || this.proc.signalCode != null) return
    const exited = once(this.proc, 'exit')
    this.proc.kill('SIGKILL')
    await exited
  }
}

/** Runs per task number, from the lines the fixture task appends. */
async function runs (log: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>()
  const text = existsSync(log) ? await readFile(log, 'utf8') : ''
  for (const line of text.split('\n')) if (line !== '') counts.set(Number(line), (counts.get(Number(line)) ?? 0) + 1)
  return counts
}

function journalRows (dataDir: string): TaskRow[] {
  const journal = Journal.open(join(dataDir, JOURNAL_FILE))
  try {
    return journal.load().tasks
  } finally {
    journal.close()
  }
}

describe('a durable owner SIGKILLed mid-session and restarted (same key, same data dir)', () => {
  let grid: GridFixture
  let agent: GridProcess
  const owners: OwnerProcess[] = []

  beforeAll(async () => {
    grid = await GridFixture.create(4)
    agent = await grid.start('n1', AGENT)
    grid.onClose(async () => { await Promise.all(owners.map(async o => { await o.kill() })) })
  }, 60_000)

  afterAll(async () => { await grid?.close() })

  it('every task completes, none that had completed runs again, and finished results are served after the restart', async () => {
    const dataDir = join(grid.dir, 'owner-data')
    const log = join(grid.dir, 'runs.log')
    const base = { certs: grid.dir, name: 'n2', dataDir, seed: agent.address }

    const first = new OwnerProcess({ ...base, mode: 'submit', module: COUNTED, count: TASKS, ms: 300, log })
    owners.push(first)
    const session = await first.line<string>('session')
    const ids = await first.line<string[]>('tasks')
    // mid-session: some done, most not (4 workers, 300 ms each: 50 tasks take ~4 s)
    await eventually(() => first.count('completed') >= 10 ? true : undefined, 60_000, 20)
    await first.kill()

    const before = journalRows(dataDir)
    const completedBefore = before.filter(t => t.status === 'completed')
    expect(before.map(t => t.id).sort()).toEqual([...ids].sort())
    expect(completedBefore.length).toBeGreaterThan(0)
    expect(completedBefore.length).toBeLessThan(TASKS)
    const numberOf = new Map(before.map(t => [t.id, (JSON.parse(t.input!) as { n: number }).n]))

    const second = new OwnerProcess({ ...base, mode: 'resume', session })
    owners.push(second)
    const resumed = await second.line<Array<{ id: string, status: string, attempts: number }>>('resumed')
    // served from the journal at once: the ones that had completed are completed before anything ran
    const completedAtStart = new Set(resumed.filter(t => t.status === 'completed').map(t => t.id))
    for (const t of completedBefore) expect(completedAtStart.has(t.id)).toBe(true)
    // an attempt in flight at the kill counts: queued again as a retry, its attempt kept
    const inFlightBefore = before.filter(t => t.status === 'dispatched' || t.status === 'running')
    for (const t of inFlightBefore) expect(resumed.find(r => r.id === t.id)!.attempts).toBeGreaterThanOrEqual(t.attempts)
    const results = await second.line<Record<string, number>>('results', 90_000)
    const counts = await second.line<{ completed: number, retries: number }>('counts')
    expect(counts.completed).toBe(TASKS)
    expect(counts.retries).toBeGreaterThanOrEqual(inFlightBefore.length)
    expect(Object.keys(results).sort()).toEqual([...ids].sort())
    for (const id of ids) expect(results[id]).toBe(numberOf.get(id)! * 2)
    expect(await second.line<boolean>('stopped')).toBe(true)
    expect(await eventually(() => second.proc.exitCode ?? undefined)).toBe(0)

    const ran = await runs(log)
    // each task ran; one that had completed before the kill ran exactly once (not again after the restart)
    for (const n of numberOf.values()) expect(ran.get(n) ?? 0).toBeGreaterThanOrEqual(1)
    for (const t of completedBefore) expect(ran.get(numberOf.get(t.id)!)).toBe(1)
    // the session was closed and done: its rows are gone
    expect(journalRows(dataDir)).toEqual([])
  }, 180_000)

  it('a task in flight on its last attempt (maxRetries 0) when its owner is SIGKILLed runs again after the restart, not failed as lost', async () => {
    const dataDir = join(grid.dir, 'owner-last-attempt')
    const log = join(grid.dir, 'last-attempt-runs.log')
    const base = { certs: grid.dir, name: 'n2', dataDir, seed: agent.address }
    const first = new OwnerProcess({ ...base, mode: 'submit', module: COUNTED, count: 1, ms: 3000, log, maxRetries: 0 })
    owners.push(first)
    const session = await first.line<string>('session')
    const [id] = await first.line<string[]>('tasks')
    // running on the agent; its dispatch is journaled within two 10 ms flushes
    await eventually(async () => (await runs(log)).get(0) === 1 ? true : undefined, 60_000, 20)
    await new Promise(resolve => setTimeout(resolve, 300))
    await first.kill()
    expect(journalRows(dataDir)).toMatchObject([{ status: expect.stringMatching(/^(dispatched|running)$/), attempts: 1, countedLosses: 0, excusedLosses: 0 }])

    const second = new OwnerProcess({ ...base, mode: 'resume', session })
    owners.push(second)
    // before, the restart counted the lost attempt: the task failed at once with TaskLostError (and the program with it)
    expect(await second.line<Record<string, number>>('results', 60_000)).toEqual({ [id!]: 0 })
    expect(await second.line<{ completed: number, failed: number }>('counts')).toMatchObject({ completed: 1, failed: 0 })
    expect(await second.line<boolean>('stopped')).toBe(true)
    expect((await runs(log)).get(0)).toBe(2)
  }, 120_000)

  it('an embedded member journals into its data dir; with tasks: { durable: false } it writes nothing there', async () => {
    const log = join(grid.dir, 'embedded-runs.log')
    const durable = await grid.member('n3', agent, 1)
    const light = await grid.member('n4', agent, 1, { tasks: { durable: false } })
    const input = (n: number): object => ({ n, ms: 1, log })
    expect(await durable.run(COUNTED, input(1))).toBe(2)
    expect(await light.run(COUNTED, input(2))).toBe(4)
    await durable.stop()
    await light.stop()
    expect(journalRows(join(grid.dir, 'data', 'n3')).map(t => t.status)).toEqual(['completed'])
    expect(existsSync(join(grid.dir, 'data', 'n4', JOURNAL_FILE))).toBe(false)
  }, 60_000)
})
