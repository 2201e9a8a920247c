import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { pino } from 'pino'
import type { GridNode } from '../../src/node.ts'
import { startDashboard } from '../../src/dashboard/server.ts'
import type { Dashboard } from '../../src/dashboard/server.ts'
import type { DashboardSnapshot } from '../../src/dashboard/snapshot.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

const CHROMIUM = '/usr/bin/chromium'
const task = (name: string): string => fileURLToPath(new URL(`../fixtures/tasks/${name}`, import.meta.url))

/** The tasks side of the dashboard: served by the node that owns the tasks (here an embedded one). */
describe('the dashboard of a task owner: counts by status, sessions, running tasks (headless Chromium)', () => {
  let grid: GridFixture
  let owner: GridNode
  let dashboard: Dashboard
  let browser: Browser

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (npm test's pretest does)`)
    grid = await GridFixture.create(2)
    const agent = await grid.start('n1', ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096'])
    owner = await grid.member('n2', agent, 1)
    dashboard = await startDashboard(owner, { port: 0, intervalMs: 200 }, pino({ level: 'silent' }))
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  }, 60_000)

  afterAll(async () => {
    await cleanup(
      async () => await browser?.close(),
      async () => await dashboard?.close(),
      async () => await grid?.close()
    )
  })

  it('shows exact counts in the snapshot and on the page, the running task, and its end after a cancel', async () => {
    const session = owner.session({ name: 'thumbs' })
    const done = [1, 2, 3, 4].map(n => session.submit(task('square.mjs'), n))
    const failed = session.submit(task('fails.mjs'), 'x')
    await Promise.allSettled([...done, failed].map(async t => await t.result()))
    const long = session.submit(task('cooperative.mjs'), { ms: 30_000 })
    await eventually(() => long.status === 'running' ? true : undefined, 20_000)

    const snap = await (await fetch(new URL('/snapshot.json', dashboard.url))).json() as DashboardSnapshot
    const row = snap.tasks.sessions.find(s => s.id === session.id)!
    expect(row).toMatchObject({ name: 'thumbs', closed: false, counts: { completed: 4, failed: 1, running: 1, queued: 0, dispatched: 0, cancelled: 0, timeout: 0, retries: 0 } })
    expect(snap.tasks.totals).toEqual({ completed: 4, failed: 1, timeout: 0, cancelled: 0 })
    expect(snap.tasks.open).toEqual({ queued: 0, dispatched: 0, running: 1 })
    expect(snap.tasks.running.map(t => t.id)).toEqual([long.id])

    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
    try {
      await page.goto(dashboard.url)
      const cells = async (selector: string): Promise<Record<string, string>> => await page.evaluate(sel => Object.fromEntries(
        [...document.querySelectorAll(`${sel} td[data-status]`)].map(td => [td.getAttribute('data-status'), td.textContent])
      ), selector)
      await page.waitForFunction(id => document.querySelector(`#running-tasks tr[data-task="${id}"]`) != null, long.id, { timeout: 20_000 })
      expect(await cells('#task-counts tr[data-row="all"]')).toEqual({ queued: '0', dispatched: '0', running: '1', completed: '4', failed: '1', timeout: '0', cancelled: '0', retries: '0' })
      expect(await cells(`#sessions tr[data-session="${session.id}"]`)).toMatchObject({ running: '1', completed: '4', failed: '1' })
      const running = await page.locator(`#running-tasks tr[data-task="${long.id}"] td`).allTextContents()
      expect(running.slice(1, 3)).toEqual(['thumbs', 'cooperative.mjs'])
      expect(running[3]).toContain(long.info().agent!.slice(-4))
      // live: the task's last ctx.progress (cooperative.mjs reports the tenths of a second it has run)
      await page.waitForFunction(id => Number(document.querySelector(`#running-tasks tr[data-task="${id}"] td.progress`)?.textContent ?? '0') >= 2, long.id, { timeout: 10_000 })
      await mkdir('test-results', { recursive: true })
      await page.screenshot({ path: 'test-results/dashboard-tasks.png', fullPage: true })

      long.cancel()
      await expect(long.result()).rejects.toMatchObject({ code: 'ERR_TASK_CANCELLED' })
      // the next snapshots: nothing runs, the cancel is counted
      await page.waitForFunction(() => document.querySelector('#running-tasks tbody td.muted')?.textContent === 'none', undefined, { timeout: 10_000 })
      expect(await cells('#task-counts tr[data-row="all"]')).toMatchObject({ running: '0', cancelled: '1', completed: '4' })
      // and a task followed to its completion: running with its progress, then counted as completed
      const short = session.submit(task('cooperative.mjs'), { ms: 1500 })
      await page.waitForFunction(id => document.querySelector(`#running-tasks tr[data-task="${id}"]`) != null, short.id, { timeout: 20_000 })
      await short.result()
      await page.waitForFunction(() => document.querySelector('#task-counts tr[data-row="all"] td[data-status="completed"]')?.textContent === '5', undefined, { timeout: 10_000 })
      expect(await cells(`#sessions tr[data-session="${session.id}"]`)).toMatchObject({ running: '0', completed: '5', cancelled: '1' })
    } finally {
      await page.close()
    }
  }, 60_000)
})
