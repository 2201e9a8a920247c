import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'
import { bearer } from './helpers/api-client.ts'
import { runGrid } from './helpers/grid-process.ts'

const CHROMIUM = '/usr/bin/chromium'
const SECRET = randomBytes(32).toString('hex')

describe('the dashboard in a real browser (headless Chromium)', () => {
  let grid: GridFixture
  let nodes: GridProcess[]
  let browser: Browser
  let url: string
  let apiUrl: string

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (npm test's pretest does)`)
    grid = await GridFixture.create(4)
    const first = await grid.start('n1', ['--dashboard', '0'])
    await writeFile(join(grid.dir, 'jwt.secret'), SECRET, { mode: 0o600 })
    // n2 serves the HTTP API: schedules made there show on n1's dashboard (they live in a grid-wide channel)
    const tickTask = fileURLToPath(new URL('../fixtures/tasks/tick-log.mjs', import.meta.url))
    nodes = [first, await grid.start('n2', ['--peer', first.address, '--api', '0', '--api-jwt-secret-file', join(grid.dir, 'jwt.secret'), '--task', `tick=${tickTask}`]), await grid.start('n3', ['--peer', first.address])]
    url = String((await first.firstLine(l => l.msg === 'dashboard listening')).url)
    apiUrl = String((await nodes[1]!.firstLine(l => l.msg === 'HTTP API listening')).url)
    // root in a container: Chromium's sandbox needs user namespaces it may not get
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await grid?.close()
  })

  it('shows the schedules of the grid with their next run', async () => {
    const token = await bearer(SECRET, 'alice', ['tasks:submit'])
    const res = await fetch(`${apiUrl}/v1/schedules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'nightly', cron: '0 30 2 * * *', timezone: 'UTC', task: 'tick', input: { file: '/dev/null' }, paused: false })
    })
    expect(res.status).toBe(201)
    const created = await res.json() as { nextRunAt: number }
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } })
    await page.goto(url)
    const row = page.locator('#schedules tbody tr[data-id="nightly"]')
    await row.waitFor({ timeout: 20_000 })
    // the next run the page shows is the one the API computed: 02:30 UTC
    expect(Number(await row.getAttribute('data-next'))).toBe(created.nextRunAt)
    expect(new Date(created.nextRunAt).toISOString()).toMatch(/T02:30:00\.000Z$/)
    expect(await row.locator('td').nth(1).textContent()).toBe('cron 0 30 2 * * * UTC')
    await page.close()
  }, 60_000)

  it('shows the pipeline deployments of the grid with their owner', async () => {
    const definition = fileURLToPath(new URL('../fixtures/durable/counting.mjs', import.meta.url))
    const deployed = await runGrid(['pipeline', 'deploy', definition, '--name', 'counting', '--peer', nodes[2]!.address, '--certs', grid.dir, '--cert-name', 'n4', '--json'], { timeoutMs: 30_000 })
    expect(deployed.code, deployed.stderr).toBe(0)
    const members = new Set(nodes.map(n => n.peerId))
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } })
    await page.goto(url)
    // one of the three members owns it (no agent here: its stage waits for one, the run is still owned)
    const row = page.locator('#deployments tbody tr[data-name="counting"]:not([data-owner=""])')
    await row.waitFor({ timeout: 20_000 })
    expect(members.has(String(await row.getAttribute('data-owner')))).toBe(true)
    expect(await row.locator('td').nth(5).textContent()).toBe('double')
    await page.close()
  }, 60_000)

  it('shows the 3 members alive, then one failed after SIGKILL; saves a screenshot', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } })
    await page.goto(url)
    await page.waitForFunction(() => document.querySelectorAll('#members tbody tr[data-state="alive"]').length === 3, undefined, { timeout: 20_000 })
    expect(await page.locator('#status').textContent()).toMatch(/^live/)
    const victim = nodes[2]!
    victim.proc.kill('SIGKILL')
    // the row keeps its member id; its state turns failed as membership detects the kill
    await page.waitForFunction((id) => document.querySelector(`#members tbody tr[data-id="${id}"]`)?.getAttribute('data-state') === 'failed', victim.peerId, { timeout: 20_000 })
    expect(await page.locator('#members tbody tr[data-state="alive"]').count()).toBe(2)
    await mkdir('test-results', { recursive: true })
    await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true })
    await page.close()
  }, 60_000)
})
