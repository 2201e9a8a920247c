import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { pino } from 'pino'
import type { GridNode } from '../../src/node.ts'
import { startDashboard } from '../../src/dashboard/server.ts'
import type { Dashboard } from '../../src/dashboard/server.ts'
import type { PipelineRun } from '../../src/pipeline/run.ts'
import { GridFixture } from './helpers/grid-fixture.ts'
import { eventually } from './helpers/grid-process.ts'
import { cleanup } from './helpers/cleanup.ts'

const CHROMIUM = '/usr/bin/chromium'
const SLEEP = fileURLToPath(new URL('../fixtures/stages/sleep.mjs', import.meta.url))

/** The pipeline side of the dashboard: it is served by the node that owns the pipeline (here an embedded one). */
describe('the dashboard of a pipeline owner in a real browser (headless Chromium)', () => {
  let grid: GridFixture
  let owner: GridNode
  let dashboard: Dashboard
  let browser: Browser
  let run: PipelineRun
  let feeding = true
  let feed: Promise<void>

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (npm test's pretest does)`)
    grid = await GridFixture.create(2)
    const agent = await grid.start('n1', ['--agent', '--workers', '4', '--cpu', '4', '--memory', '4096'])
    owner = await grid.member('n2', agent, 1)
    dashboard = await startDashboard(owner, { port: 0 }, pino({ level: 'silent' }))
    run = owner.pipeline('thumbs', { stages: [{ name: 'resize', module: SLEEP, minWorkers: 1, maxWorkers: 2 }], sink: () => {}, equalizeMs: 250 })
    // a steady ~50 items/s of 10 ms each, until the test is done with it
    feed = (async () => {
      while (feeding) {
        for (let k = 0; k < 5; k++) await run.push({ ms: 10 })
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    })()
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  }, 60_000)

  afterAll(async () => {
    feeding = false
    await cleanup(
      async () => await browser?.close(),
      async () => { await feed; run.end(); await run.done },
      async () => await dashboard?.close(),
      async () => await grid?.close()
    )
  })

  it('shows the pipeline table with the stage\'s live figures, and its chart grows with every snapshot over SSE', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } })
    try {
      await page.goto(dashboard.url)
      // the table: one per pipeline this node owns, one row per stage
      await page.waitForFunction(() => document.querySelector('#pipelines table.pipeline tbody tr td')?.textContent === 'resize', undefined, { timeout: 20_000 })
      expect(await page.locator('#pipelines h3').allTextContents()).toEqual(['thumbs'])
      // the row's texts and the pressure cell's class, read together (each snapshot redraws the table)
      const cells = async (): Promise<string[]> => await page.evaluate(() => {
        const tds = [...document.querySelectorAll('#pipelines table.pipeline tbody tr:first-child td')]
        return [...tds.map(td => td.textContent ?? ''), tds.at(-1)?.className ?? '']
      })
      const row = await eventually(async () => {
        const c = await cells()
        // live: workers up and the offered rate measured (~50 items/s; less on a loaded machine)
        return Number(c[1]) >= 1 && Number(c[2]) > 10 ? c : undefined
      }, 20_000)
      expect(row[0]).toBe('resize')
      expect(Number(row[1])).toBeLessThanOrEqual(2)
      // the arrival column is items per second, not per tick or a running total
      expect(Number(row[2])).toBeLessThan(200)
      expect(row[7]).toMatch(/^(high|even|low)$/)
      expect(row[8]).toBe(row[7])

      // the chart: one uPlot per stage, fed one point per snapshot
      await page.waitForFunction(() => document.querySelector('#charts .uplot .u-title')?.textContent === 'thumbs/resize: items/s and workers', undefined, { timeout: 10_000 })
      const points = async (): Promise<{ t: number[], rate: number[], workers: number[] }> => await page.evaluate(() => {
        // `series`, the page script's map of uPlot charts by "pipeline/stage", is a top-level const: not a
        // property of window, but visible by name to code evaluated in the page's global scope
        const series = (0, eval)('series') as Map<string, { chart: { data: number[][] } }>
        const [t, rate, workers] = series.get('thumbs/resize')!.chart.data
        return { t: [...t!], rate: [...rate!], workers: [...workers!] }
      })
      const before = await points()
      const later = await eventually(async () => {
        const p = await points()
        return p.t.length >= before.t.length + 2 ? p : undefined
      }, 15_000)
      // time moves forward a snapshot (~1 s) at a time, and the plotted values are the stage's
      const steps = later.t.slice(1).map((t, i) => t - later.t[i]!)
      expect(Math.min(...steps)).toBeGreaterThan(0)
      expect(Math.max(...steps)).toBeLessThan(5)
      expect(later.rate.at(-1)).toBeGreaterThan(0)
      expect(later.workers.every(w => w >= 1 && w <= 2)).toBe(true)
    } finally {
      await page.close()
    }
  }, 60_000)
})
