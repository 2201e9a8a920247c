import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { GridFixture } from './helpers/grid-fixture.ts'
import type { GridProcess } from './helpers/grid-process.ts'

const CHROMIUM = '/usr/bin/chromium'

describe('the dashboard in a real browser (headless Chromium)', () => {
  let grid: GridFixture
  let nodes: GridProcess[]
  let browser: Browser
  let url: string

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (npm test's pretest does)`)
    grid = await GridFixture.create(3)
    const first = await grid.start('n1', ['--dashboard', '0'])
    nodes = [first, await grid.start('n2', ['--peer', first.address]), await grid.start('n3', ['--peer', first.address])]
    url = String((await first.firstLine(l => l.msg === 'dashboard listening')).url)
    // root in a container: Chromium's sandbox needs user namespaces it may not get
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await grid?.close()
  })

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
