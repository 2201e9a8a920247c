/**
 * `npm run bench:owner-memory`: is the owner's memory bounded for an endless
 * source? Streams no-op items through a remote stage (this process owns the
 * pipeline; the agent and its worker are other processes) and reads this
 * process's RSS, after a full GC, every 200 k items. Passes when the RSS after
 * 2 M items is within 10 % of the RSS after 200 k (exit code 1 otherwise).
 * Counting starts after a warm-up of `--warmup N` items (default 400 k) through
 * the same run: until then the process is still growing to its working size
 * (JIT, V8's young generation, the adaptive credit window reaching 1024).
 * `--items N` changes the 2 M, `--first N` the 200 k.
 */
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { note, procMemory, table } from './lib.ts'
import { runBench } from './report.ts'
import { ownerWithAgent } from './owner-with-agent.ts'

const LIMIT = 1.10

// a full collection before each reading, so the figure is what the owner keeps, not garbage not yet collected
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

interface Reading { items: number, rssMb: number, rssAnonMb: number, heapUsedMb: number, heapTotalMb: number, externalMb: number, atS: number }
const mb = (bytes: number): number => Math.round(bytes / 1024 / 102.4) / 10

await runBench('owner-memory', ['--items', '--first', '--warmup'], async (args, defer) => {
  const ITEMS = args.number('--items', args.quick ? 600_000 : 2_000_000)
  const FIRST = args.number('--first', args.quick ? 100_000 : 200_000)
  const WARMUP = args.number('--warmup', args.quick ? 300_000 : 400_000)
  const owner = await ownerWithAgent('owner-memory', defer)
  note(`agent alive; streaming ${WARMUP} warm-up + ${ITEMS} no-op items, reading RSS every ${FIRST}`)

  const readings: Reading[] = []
  const t0 = performance.now()
  let delivered = -WARMUP
  function * endless (): Generator<{ n: number }> { for (let n = 0; n < WARMUP + ITEMS; n++) yield { n } }
  const run = owner.pipeline('owner-memory', {
    source: endless(),
    stages: [{ name: 'noop', module: fileURLToPath(new URL('../fixtures/stages/noop.mjs', import.meta.url)), minWorkers: 1, maxWorkers: 1 }],
    sink: async () => {
      if (++delivered <= 0 || delivered % FIRST !== 0) return
      gc()
      const m = process.memoryUsage()
      const proc = await procMemory(process.pid)
      readings.push({ items: delivered, rssMb: mb(m.rss), rssAnonMb: proc?.rssAnonMb ?? NaN, heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), atS: Math.round((performance.now() - t0) / 100) / 10 })
      note(`${delivered} items after the warm-up: ${JSON.stringify(readings.at(-1))}`)
    }
  })
  const summary = await run.done
  if (summary.out !== WARMUP + ITEMS || summary.failed !== 0) throw new Error(`lost items: ${JSON.stringify(summary)}`)
  const first = readings.find(r => r.items === FIRST)!
  const last = readings.at(-1)!
  const ratio = Math.round(last.rssMb / first.rssMb * 1000) / 1000
  const itemsPerS = Math.round((WARMUP + ITEMS) / ((performance.now() - t0) / 1000))
  process.stdout.write(table(['items after warm-up', 'owner RSS (MB, after GC)', 'of it anonymous', 'JS heap used / total (MB)', 'external (MB)', 's'],
    readings.map(r => [String(r.items), String(r.rssMb), String(r.rssAnonMb), `${r.heapUsedMb} / ${r.heapTotalMb}`, String(r.externalMb), String(r.atS)])))
  return {
    figures: {
      ratio: { value: ratio, unit: '×', label: `RSS after ${last.items} / after ${FIRST}` },
      rssFirstMb: { value: first.rssMb, unit: 'MB', label: `RSS after ${FIRST}` },
      rssLastMb: { value: last.rssMb, unit: 'MB', label: `RSS after ${last.items}` },
      heapFirstMb: { value: first.heapUsedMb, unit: 'MB', label: 'JS heap used, first' },
      heapLastMb: { value: last.heapUsedMb, unit: 'MB', label: 'JS heap used, last' },
      itemsPerS: { value: itemsPerS, unit: 'items/s', label: 'throughput' }
    },
    targets: [{ figure: 'ratio', comparator: '<=', bound: LIMIT }],
    rows: [{ what: 'owner RSS, endless source: no-op items through a remote stage (full GC before each reading)', figures: ['ratio', 'rssFirstMb', 'rssLastMb', 'heapFirstMb', 'heapLastMb', 'itemsPerS'], note: `after a ${WARMUP}-item warm-up` }],
    details: { warmup: WARMUP, items: ITEMS, first: FIRST, readings }
  }
})
